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
