"""Policy-gradient parts: GAE and the linear baseline by hand, the Gaussian policy's math, TRPO's trust
region, and MAML's second-order meta-gradient against finite differences."""

import math

import pytest
import torch

from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    LinearFeatureBaseline,
    adapt,
    discounted_cumsum,
    gae,
    gaussian_kl,
    ppo_loss,
    trpo_step,
    vpg_loss,
)


def test_discounted_cumsum_and_gae_by_hand():
    r = torch.tensor([[1.0, 2.0, 3.0]])
    assert discounted_cumsum(r, 0.5)[0].tolist() == pytest.approx([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0])
    values = torch.tensor([[0.5, 1.0, 2.0]])
    valid = torch.tensor([[1.0, 1.0, 0.0]])  # the trajectory ended after step 1
    gamma, lam = 0.9, 0.5
    # deltas: d0 = 1 + 0.9 * 1.0 - 0.5 = 1.4; d1 = 2 + 0.9 * 0 - 1.0 = 1.0 (no value after the last step)
    expected = [1.4 + gamma * lam * 1.0, 1.0, 0.0]
    assert gae(r, values, valid, gamma, lam)[0].tolist() == pytest.approx(expected)
    # lambda = 1 with a zero baseline is the discounted return
    full = torch.ones(1, 3)
    assert gae(r, torch.zeros(1, 3), full, 0.9, 1.0)[0].tolist() == pytest.approx(discounted_cumsum(r, 0.9)[0].tolist())


def test_discounted_sums_and_gae_stop_at_path_ends_inside_a_row():
    """A row holding two paths back to back (restarted model rollouts): returns and GAE of each path are
    those of the path alone; the baseline's time feature restarts with the path."""
    r = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    values = torch.tensor([[0.5, 1.0, 2.0, 0.3, 0.7]])
    valid = torch.ones(1, 5)
    cont = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]])  # paths [0, 1] and [2, 3, 4]
    first, second = discounted_cumsum(r[:, :2], 0.9), discounted_cumsum(r[:, 2:], 0.9)
    assert torch.allclose(discounted_cumsum(r, 0.9, cont), torch.cat([first, second], 1))
    alone = [gae(r[:, :2], values[:, :2], valid[:, :2], 0.9, 0.5), gae(r[:, 2:], values[:, 2:], valid[:, 2:], 0.9, 0.5)]
    assert torch.allclose(gae(r, values, valid, 0.9, 0.5, cont), torch.cat(alone, 1))
    time = torch.tensor([[0, 1, 0, 1, 2]])
    obs = torch.randn(1, 5, 2)
    assert LinearFeatureBaseline.features(obs, time)[0, 2:, -4].tolist() == pytest.approx([0.0, 0.01, 0.02])


def test_linear_baseline_fits_features_exactly_and_per_task():
    torch.manual_seed(0)
    obs = torch.randn(2, 6, 10, 3, dtype=torch.float64)
    feats = LinearFeatureBaseline.features(obs)
    assert feats.shape == (2, 6, 10, 3 * 2 + 4)
    true_coef = torch.randn(2, feats.shape[-1], 1, dtype=torch.float64)  # a different target per task
    returns = (feats @ true_coef.unsqueeze(1)).squeeze(-1)
    baseline = LinearFeatureBaseline(reg=1e-10)
    baseline.fit(obs, returns, torch.ones(2, 6, 10, dtype=torch.float64))
    assert torch.allclose(baseline.predict(obs), returns, atol=1e-6)


def test_gaussian_policy_log_prob_and_kl_match_torch():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(3, 2, hidden=8, init_std=0.5)
    obs, act = torch.randn(5, 3), torch.randn(5, 2)
    mean, log_std = policy(obs)
    normal = torch.distributions.Normal(mean, log_std.exp())
    assert torch.allclose(policy.log_prob(obs, act), normal.log_prob(act).sum(-1), atol=1e-5)
    other = torch.distributions.Normal(mean + 0.3, log_std.exp() * 1.5)
    expected = torch.distributions.kl_divergence(normal, other).sum(-1)
    assert torch.allclose(gaussian_kl(mean, log_std, mean + 0.3, log_std + math.log(1.5)), expected, atol=1e-5)
    # substituted parameters are used
    params = {k: v + 1.0 for k, v in policy.params().items()}
    assert not torch.allclose(policy.log_prob(obs, act, params), policy.log_prob(obs, act))


def _bandit(seed: int = 0):
    torch.manual_seed(seed)
    policy = GaussianMLPPolicy(2, 1, hidden=8).double()
    obs = torch.randn(256, 2, dtype=torch.float64)
    act = policy.act(obs)
    adv = (act[:, 0] - 0.5 * obs[:, 0]).detach()  # reward favours larger actions
    return policy, obs, act, adv


@pytest.mark.parametrize("max_kl", [0.01, 0.05])
def test_trpo_step_improves_within_the_kl_bound(max_kl):
    policy, obs, act, adv = _bandit()
    valid = torch.ones(256, dtype=torch.float64)
    with torch.no_grad():
        old_mean, old_log_std = policy(obs)
        old_log_prob = policy.log_prob(obs, act)

    def loss_fn():
        return ppo_loss(policy.log_prob(obs, act), old_log_prob, adv, clip=1e9, valid=valid)  # plain IS surrogate

    def kl_fn():
        mean, log_std = policy(obs)
        return gaussian_kl(old_mean, old_log_std, mean, log_std).mean()

    result = trpo_step(list(policy.parameters()), loss_fn, kl_fn, max_kl)
    assert result.accepted and result.loss_after < result.loss_before
    assert 0 < kl_fn().item() <= max_kl * 1.0001
    assert kl_fn().item() > 0.3 * max_kl  # the step uses the region rather than a tiny move


def test_maml_meta_gradient_matches_finite_differences():
    """d/dtheta of L_outer(theta - alpha grad L_inner(theta)) by autograd (second order) against central
    differences on every parameter."""
    policy, obs, act, adv = _bandit()
    _, obs2, act2, adv2 = _bandit(seed=1)
    valid = torch.ones(256, dtype=torch.float64)
    names = list(policy.params())
    alpha = 0.5  # large, so the second-order term matters

    def meta_loss(flat_theta: torch.Tensor) -> torch.Tensor:
        params, offset = {}, 0
        for name in names:
            p = policy.params()[name]
            params[name] = flat_theta[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        adapted = adapt(params, lambda q: vpg_loss(policy.log_prob(obs, act, q), adv, valid), alpha)
        return vpg_loss(policy.log_prob(obs2, act2, adapted), adv2, valid)

    theta = torch.cat([p.detach().reshape(-1) for p in policy.parameters()]).requires_grad_(True)
    (grad,) = torch.autograd.grad(meta_loss(theta), theta)
    eps = 1e-6
    numeric = torch.zeros_like(theta)
    with torch.enable_grad():
        for i in range(theta.numel()):
            e = torch.zeros_like(theta)
            e[i] = eps
            plus = meta_loss((theta.detach() + e).requires_grad_(True))
            minus = meta_loss((theta.detach() - e).requires_grad_(True))
            numeric[i] = (plus - minus).item() / (2 * eps)
    assert torch.allclose(grad, numeric, rtol=1e-4, atol=1e-7)
    # the first-order approximation (inner gradient treated as a constant) differs: the second-order term is real
    params = {k: v.detach().requires_grad_(True) for k, v in policy.params().items()}
    inner = lambda q: vpg_loss(policy.log_prob(obs, act, q), adv, valid)  # noqa: E731
    adapted = adapt(params, inner, alpha, create_graph=False)
    first_order = torch.autograd.grad(
        vpg_loss(policy.log_prob(obs2, act2, adapted), adv2, valid), list(params.values())
    )
    assert not torch.allclose(grad, torch.cat([g.reshape(-1) for g in first_order]), rtol=1e-3)


def test_linear_baseline_survives_singular_features():
    """Constant observations (collinear with the bias feature) make the normal equations singular in float32:
    the fit solves in float64 and regularizes, never raises."""
    obs = torch.full((3, 4, 200, 5), 10.0)
    returns = torch.randn(3, 4, 200)
    baseline = LinearFeatureBaseline()
    baseline.fit(obs, returns, torch.ones(3, 4, 200))
    assert torch.isfinite(baseline.predict(obs)).all()
