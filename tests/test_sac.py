"""SAC: target computation by hand, action bounds and log-probabilities in both flavours' units, the update
order of each flavour, initialisation, learning a one-step problem."""

import copy
import math

import pytest
import torch

from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.policies.sac import SAC, SACSettings


def _sac(**kw) -> SAC:
    torch.manual_seed(0)
    return SAC(obs_dim=3, act_dim=2, low=-2.0, high=2.0, settings=SACSettings(hidden=32, **kw), device="cpu")


def test_q_target_matches_hand_computation():
    sac = _sac(gamma=0.9)
    with torch.no_grad():
        sac.log_alpha.fill_(math.log(0.3))
    batch = Batch(
        torch.randn(4, 3),
        torch.rand(4, 2),
        torch.tensor([1.0, 2.0, 3.0, 4.0]),
        torch.randn(4, 3),
        torch.tensor([0.0, 1.0, 0.0, 1.0]),
    )
    torch.manual_seed(5)
    target = sac.q_target(batch)
    torch.manual_seed(5)  # same policy noise
    next_act, next_logp = sac.actor(batch.next_obs)
    q1, q2 = sac.critic_target(torch.cat([batch.next_obs, next_act / 2.0], -1)).squeeze(-1)  # Q sees [-1, 1]
    expected = batch.rew + 0.9 * (1 - batch.terminated) * (torch.minimum(q1, q2) - 0.3 * next_logp)
    assert torch.allclose(target, expected, atol=1e-6)
    assert torch.allclose(target[[1, 3]], batch.rew[[1, 3]])  # terminal rows: reward only


@pytest.mark.parametrize("flavor", ["softlearning", "pranz24"])
def test_actions_respect_bounds_and_log_prob_matches_change_of_variables(flavor):
    """softlearning: log pi is the density of the normalized action tanh(u) (its env wraps actions to [-1, 1]);
    pranz24: the density of the env-unit action 2 tanh(u), one log(2) lower per dimension."""
    sac = _sac(flavor=flavor)
    obs = torch.randn(20000, 3) * 3
    act, _logp = sac.actor(obs)
    assert act.abs().max() <= 2.0
    # one state, compare with torch.distributions on the pre-squash sample
    torch.manual_seed(3)
    a, lp = sac.actor(obs[:1])
    mu, log_std = sac.actor.head(sac.actor.body(obs[:1])).chunk(2, -1)
    u = torch.atanh((a / 2.0).clamp(-0.999999, 0.999999))
    base = torch.distributions.Normal(mu, log_std.clamp(-20, 2).exp()).log_prob(u)
    scale = 2.0 if flavor == "pranz24" else 1.0
    expected = (base - torch.log(scale * (1 - torch.tanh(u) ** 2))).sum(-1)
    assert torch.allclose(lp, expected, atol=1e-3)


def test_q_nets_see_normalized_actions_in_softlearning_and_env_actions_in_pranz24():
    obs, act = torch.randn(5, 3), torch.rand(5, 2) * 4 - 2
    soft, pranz = _sac(), _sac(flavor="pranz24")
    assert torch.equal(soft.q_values(obs, act), soft.critic(torch.cat([obs, act / 2.0], -1)).squeeze(-1))
    assert torch.equal(pranz.q_values(obs, act), pranz.critic(torch.cat([obs, act], -1)).squeeze(-1))


def _humanoid_box_alpha_trend(flavor: str, updates: int = 60) -> tuple[float, float]:
    """alpha and the entropy estimate after ``updates`` on random data with humanoid's action box (17 dims of
    +-0.4) and MBPO's humanoid target entropy -2."""
    torch.manual_seed(0)
    settings = SACSettings(hidden=32, target_entropy=-2.0, flavor=flavor)
    sac = SAC(obs_dim=4, act_dim=17, low=-0.4, high=0.4, settings=settings, device="cpu")
    for _ in range(updates):
        obs = torch.randn(64, 4)
        sac.update(Batch(obs, torch.rand(64, 17) * 0.8 - 0.4, torch.randn(64), obs, torch.zeros(64)))
    diag = sac.pop_diagnostics()
    return float(sac.log_alpha.detach().exp()), diag["sac/entropy"]


def test_humanoid_target_entropy_is_reachable_in_normalized_units():
    """The review's failure: with log pi in env units a 17-dim +-0.4 box caps the entropy near -3.8, below
    MBPO's target -2, so alpha grows without bound. On the normalized action (softlearning) the initial policy
    is above the target and alpha falls."""
    alpha, entropy = _humanoid_box_alpha_trend("softlearning")
    assert entropy > -2.0 and alpha < 1.0
    alpha_env, entropy_env = _humanoid_box_alpha_trend("pranz24")
    assert entropy_env < -2.0 and alpha_env > 1.0  # the env-unit measure: the same policy sits below -2
    assert entropy - entropy_env == pytest.approx(17 * math.log(1 / 0.4), abs=0.6)


def test_learns_a_bandit_and_tunes_temperature():
    """Reward = -(a - 1)^2, terminal after one step: the greedy action must approach 1."""
    sac = _sac(lr=3e-3, target_entropy=-2.0)
    for _ in range(600):
        obs = torch.randn(128, 3)
        act = torch.rand(128, 2) * 4 - 2
        rew = -((act - 1.0) ** 2).sum(-1)
        sac.update(Batch(obs, act, rew, obs, torch.ones(128)))
    greedy = sac.act(torch.randn(256, 3), deterministic=True)
    assert torch.allclose(greedy.mean(0), torch.ones(2), atol=0.25)
    diag = sac.pop_diagnostics()
    assert diag["sac/updates"] == 600 and math.isfinite(diag["sac/q_loss"])
    assert diag["sac/alpha"] < 1.0  # temperature moved from its initial 1
    assert math.isnan(sac.pop_diagnostics()["sac/q_loss"])  # reset after reading


def test_target_network_moves_by_polyak_rate():
    sac = _sac(tau=0.1)
    before = [p.clone() for p in sac.critic_target.parameters()]
    batch = Batch(torch.randn(8, 3), torch.rand(8, 2), torch.randn(8), torch.randn(8, 3), torch.zeros(8))
    sac.update(batch)
    for old, target, online in zip(before, sac.critic_target.parameters(), sac.critic.parameters(), strict=True):
        assert torch.allclose(target, old + 0.1 * (online - old), atol=1e-6)


def _batch(n: int = 64) -> Batch:
    g = torch.Generator().manual_seed(3)
    return Batch(
        torch.randn(n, 3, generator=g),
        torch.rand(n, 2, generator=g) * 4 - 2,
        torch.randn(n, generator=g),
        torch.randn(n, 3, generator=g),
        torch.zeros(n),
    )


def test_actor_step_equals_the_step_with_critic_weight_gradients():
    """Freezing the critics' weights in the actor step (a speed-up) changes nothing the actor sees."""
    sac, obs = _sac(), _batch().obs
    torch.manual_seed(1)
    sac._actor_and_alpha_backward(obs)
    sac.actor_opt.step()
    fast = [p.detach().clone() for p in sac.actor.parameters()]

    ref = _sac()
    torch.manual_seed(1)
    alpha = ref.log_alpha.exp().detach()
    act, logp = ref.actor(obs)
    loss = (alpha * logp - ref.q_values(obs, act).min(dim=0).values).mean()
    ref.actor_opt.zero_grad()
    loss.backward()  # also fills critic weight gradients, which the actor step never uses
    ref.actor_opt.step()
    assert all(torch.equal(a, b) for a, b in zip(fast, ref.actor.parameters(), strict=True))
    assert all(p.requires_grad for p in sac.critic.parameters())  # unfrozen again for the critic step


def _actor_grads_from(ref: SAC, batch: Batch, step_critic_first: bool) -> list[torch.Tensor]:
    """The actor gradient of ``ref``'s policy loss on ``batch``, with or without one critic step first, using
    the same random draws as ``SAC.update`` (next-action noise, then policy noise)."""
    q_loss, _ = ref.critic_loss(batch)
    if step_critic_first:
        ref.critic_opt.zero_grad()
        q_loss.backward()
        ref.critic_opt.step()
    loss, _, _ = ref.actor_loss(batch.obs)
    ref.actor_opt.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in ref.actor.parameters()]


@pytest.mark.parametrize("flavor", ["softlearning", "pranz24"])
def test_update_order_of_each_flavour(flavor):
    """softlearning (mbpo.py:661, one session.run): the policy gradient uses the pre-step critic. pranz24 (TOM
    sac/sac.py:84-98): the critic steps first and the policy loss is formed on the stepped critic."""
    sac, batch = _sac(flavor=flavor, lr=1e-2), _batch()
    ref_pre, ref_post = copy.deepcopy(sac), copy.deepcopy(sac)
    torch.manual_seed(4)
    sac.update(batch)
    got = [p.grad for p in sac.actor.parameters()]
    torch.manual_seed(4)
    pre = _actor_grads_from(ref_pre, batch, step_critic_first=False)
    torch.manual_seed(4)
    post = _actor_grads_from(ref_post, batch, step_critic_first=True)
    expected, other = (pre, post) if flavor == "softlearning" else (post, pre)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected, strict=True))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, other, strict=True))


def test_pranz24_critic_loss_is_plain_mse_clamped_at_1000():
    sac, batch = _sac(flavor="pranz24"), _batch()
    torch.manual_seed(0)
    loss, _ = sac.critic_loss(batch)
    torch.manual_seed(0)
    target = sac.q_target(batch)
    mse = ((sac.q_values(batch.obs, batch.act) - target) ** 2).mean(dim=1)
    assert torch.allclose(loss, mse.sum())  # no 0.5 (softlearning has it)
    huge = batch._replace(rew=batch.rew + 1e4)
    loss, _ = sac.critic_loss(huge)
    sac.critic_opt.zero_grad()
    loss.backward()
    assert loss.item() == pytest.approx(2000.0)
    assert all(p.grad is None or not p.grad.any() for p in sac.critic.parameters())  # clamp_max: no gradient


def test_networks_start_glorot_uniform_with_zero_biases():
    """softlearning's Keras Dense default and TOM's xavier_uniform_ (gain 1), zero bias, for actor and critics."""
    sac = SAC(obs_dim=40, act_dim=8, low=-1.0, high=1.0, settings=SACSettings(hidden=256), device="cpu")
    layers = [(lay.weight.transpose(-1, -2), lay.bias) for lay in sac.critic.layers]
    layers += [(m.weight, m.bias) for m in sac.actor.modules() if isinstance(m, torch.nn.Linear)]
    for weight, bias in layers:
        fan_out, fan_in = weight.shape[-2:]
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert weight.abs().max() <= limit and weight.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.1)
        assert not bias.any()


def test_actor_update_interval_updates_actor_and_temperature_on_every_kth_step():
    sac, batch = _sac(actor_update_interval=3), _batch()
    changed = []
    for _ in range(7):
        before = [p.detach().clone() for p in [*sac.actor.parameters(), sac.log_alpha]]
        sac.update(batch)
        after = [*sac.actor.parameters(), sac.log_alpha]
        changed.append(any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)))
    assert changed == [True, False, False, True, False, False, True]
    diag = sac.pop_diagnostics()
    assert diag["sac/updates"] == 7 and all(math.isfinite(v) for v in diag.values())


def test_cuda_graph_setting_is_ignored_on_cpu():
    """``sac_cuda_graph`` is a GPU speed setting: on CPU the update stays the eager one, bit for bit."""
    batch = _batch()
    plain, flagged = _sac(), _sac(cuda_graph=True)
    assert flagged._graphed is None
    for sac in (plain, flagged):
        torch.manual_seed(2)
        for _ in range(3):
            sac.update(batch)
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), flagged.parameters(), strict=True))
