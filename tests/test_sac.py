"""SAC: target computation by hand, action bounds and log-probabilities, learning a one-step problem."""

import math

import torch

from mbrlbench.components.buffers import Batch
from mbrlbench.components.sac import SAC, SACSettings


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
    q1, q2 = sac.critic_target(torch.cat([batch.next_obs, next_act], -1)).squeeze(-1)
    expected = batch.rew + 0.9 * (1 - batch.done) * (torch.minimum(q1, q2) - 0.3 * next_logp)
    assert torch.allclose(target, expected, atol=1e-6)
    assert torch.allclose(target[[1, 3]], batch.rew[[1, 3]])  # terminal rows: reward only


def test_actions_respect_bounds_and_log_prob_matches_change_of_variables():
    sac = _sac()
    obs = torch.randn(20000, 3) * 3
    act, _logp = sac.actor(obs)
    assert act.abs().max() <= 2.0
    # one state, compare with torch.distributions on the pre-squash sample
    torch.manual_seed(3)
    a, lp = sac.actor(obs[:1])
    mu, log_std = sac.actor.head(sac.actor.body(obs[:1])).chunk(2, -1)
    u = torch.atanh((a / 2.0).clamp(-0.999999, 0.999999))
    base = torch.distributions.Normal(mu, log_std.clamp(-20, 2).exp()).log_prob(u)
    expected = (base - torch.log(2.0 * (1 - torch.tanh(u) ** 2))).sum(-1)
    assert torch.allclose(lp, expected, atol=1e-3)


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
    sac.update_actor(obs)
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
