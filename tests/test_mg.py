"""MG: the gradient-matching loss on a toy linear-Gaussian problem with a known optimum, second-order gradients
into the model (against finite differences), GAE with bootstraps by hand, the algorithm's loop for both model
objectives and both backbones, and exact resume of an mg run stopped inside a real batch."""

import math

import pytest
import torch

from mbrlbench.algorithms.registry import build, resolve, resolve_config
from mbrlbench.components.data.trajectories import bootstrapped_advantages, imagine
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    cosine,
    flat_grad,
    gae_bootstrapped,
    gradient_distance,
    vpg_loss,
)
from mbrlbench.tasks import TASKS, never_done

TINY = {
    "batch_steps": 200,
    "ensemble_size": 3,
    "num_elites": 2,
    "model_hidden": 16,
    "model_layers": 2,
    "model_steps": 6,
    "matching_steps": 3,
    "mle_batch_size": 32,
    "model_rollouts": 32,
    "model_horizon": 5,
    "policy_rollouts": 32,
    "policy_hidden": 16,
    "value_hidden": 16,
    "ppo_epochs": 2,
    "ppo_minibatches": 4,
}


def _mg(name: str = "mg", **overrides):
    base, layer = resolve(name)
    config = resolve_config(base, "inverted_pendulum", layer, TINY, overrides)
    torch.manual_seed(0)
    return build(base, config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)


# ------------------------------------------------------------------------------------------ the math
def test_gae_bootstrapped_by_hand():
    rew = torch.tensor([1.0, 2.0, 3.0])
    value = torch.tensor([0.5, 1.0, 2.0])
    next_value = torch.tensor([1.0, 4.0, 8.0])
    terminal = torch.tensor([0.0, 1.0, 0.0])  # step 1 terminates: no bootstrap, step 2 starts a new episode
    cont = torch.tensor([1.0, 0.0, 0.0])  # the batch ends after step 2: bootstrap with V(s'_2) = 8
    g, lam = 0.9, 0.5
    d0, d1, d2 = 1 + g * 1.0 - 0.5, 2 - 1.0, 3 + g * 8 - 2.0
    expected = [d0 + g * lam * d1, d1, d2]
    assert gae_bootstrapped(rew, value, next_value, terminal, cont, g, lam).tolist() == pytest.approx(expected)


def test_identical_data_gives_cosine_one_and_zero_l2():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(3, 2, hidden=8)
    obs, act, adv = torch.randn(50, 3), torch.randn(50, 2), torch.randn(50)
    params = list(policy.parameters())
    g_flat = flat_grad(vpg_loss(policy.log_prob(obs, act), adv, torch.ones(50)), params)
    # the same data laid out as 10 "model" trajectories of 5 steps
    g_traj = flat_grad(
        vpg_loss(policy.log_prob(obs.view(10, 5, 3), act.view(10, 5, 2)), adv.view(10, 5), torch.ones(10, 5)), params
    )
    assert cosine(g_traj, g_flat).item() == pytest.approx(1.0, abs=1e-6)
    assert gradient_distance(g_traj, g_flat, "cosine").item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_distance(g_traj, g_flat, "l2").item() == pytest.approx(0.0, abs=1e-10)
    assert cosine(-g_traj, g_flat).item() == pytest.approx(-1.0, abs=1e-6)


def _toy(phi_true: torch.Tensor, kind: str, steps: int = 150):
    """Linear-Gaussian toy: s ~ N(mu, I), linear policy a ~ N(W s + b, I), one step, reward phi . a. The policy
    gradient is phi mu^T (W), phi (b), 0 (log-std): linear in phi, so the L2 optimum is phi = phi_true and
    the cosine optimum is phi parallel to phi_true. The model learns phi by gradient matching alone."""
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(2, 2, layers=0)  # no hidden layer: a linear Gaussian policy
    params = list(policy.parameters())
    mu = torch.tensor([1.0, 0.5])
    phi = torch.nn.Parameter(torch.tensor([-0.5, 0.5]))

    def rollout(weights: torch.Tensor, n: int):
        start = mu + torch.randn(n, 2)
        traj = imagine(lambda o, a: (o, (a * weights).sum(-1)), policy, start, 1, never_done, -1e6, 1e6)
        adv, _ = bootstrapped_advantages(traj, lambda o: torch.zeros(o.shape[:-1]), 0.99, 0.95, "gae")
        return flat_grad(vpg_loss(policy.log_prob(traj.obs, traj.act), adv, traj.valid), params, True)

    g_real = rollout(phi_true, 100_000).detach()
    opt = torch.optim.Adam([phi], lr=0.05)
    losses, distances = [], []
    for _ in range(steps):
        loss = gradient_distance(rollout(phi, 4096), g_real, kind)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        distances.append((phi.detach() - phi_true).norm().item())
    return losses, distances, phi.detach()


def test_toy_l2_matching_falls_and_moves_the_model_to_the_optimum():
    phi_true = torch.tensor([1.0, -2.0])
    losses, distances, phi = _toy(phi_true, "l2")
    assert sum(losses[-10:]) / 10 < 0.05 * sum(losses[:10]) / 10
    assert distances[-1] < 0.1 * distances[0]
    assert torch.allclose(phi, phi_true, atol=0.15)


def test_toy_cosine_matching_aligns_the_model_with_the_optimum():
    phi_true = torch.tensor([1.0, -2.0])
    losses, _, phi = _toy(phi_true, "cosine")
    assert sum(losses[-10:]) / 10 < 0.05 * sum(losses[:10]) / 10
    assert cosine(phi, phi_true).item() > 0.99  # cosine fixes the direction only


# ---------------------------------------------------------------------- second order, in the algorithm
def _filled(name: str = "mg", **overrides):
    algo = _mg(name, **overrides)
    for _ in range(algo.config.batch_steps):
        algo.env_step()
    real = algo.real_batch()
    algo.model_data.add(
        real["obs"], real["act"].clamp(algo.low, algo.high), real["rew"], real["next_obs"], real["terminated"]
    )
    algo.model.normalizer.fit(torch.cat([algo.model_data.train.all().obs, algo.model_data.train.all().act], dim=-1))
    g_real = algo.policy_grad(real["obs"], real["act"], real["grad_adv"], real["valid"])
    return algo, real, g_real


def test_second_order_gradients_reach_the_model_and_match_finite_differences():
    algo, real, g_real = _filled()
    torch.manual_seed(1)
    start = algo.starts(real, 64)
    model_params = [p for p in algo.model.parameters() if p.requires_grad]

    def loss_at(seed: int, create_graph: bool) -> torch.Tensor:
        torch.manual_seed(seed)  # common random numbers: the same members and noise each call
        g_model = algo.model_grad(start, create_graph=create_graph)
        return gradient_distance(g_model, g_real, "cosine")

    loss = loss_at(5, True)
    grads = torch.autograd.grad(loss, model_params, allow_unused=True)
    net_grads = [g for g, p in zip(grads, model_params, strict=True) if p.dim() == 3]  # ensemble weights
    assert all(g is not None and torch.isfinite(g).all() for g in net_grads)
    assert sum(g.abs().sum().item() for g in net_grads) > 0
    # the policy's own gradient graph is what carries them: without create_graph no path to the model
    with pytest.raises(RuntimeError):
        torch.autograd.grad(loss_at(5, False), model_params, allow_unused=True)
    # directional derivative against central finite differences (float64 for the differences)
    algo.model.double()
    algo.policy.double()
    algo.value.double()
    start, g_real = start.double(), g_real.double()
    loss = loss_at(5, True)
    grads = torch.autograd.grad(loss, model_params, allow_unused=True)
    torch.manual_seed(2)
    direction = [torch.randn_like(p) for p in model_params]
    analytic = sum((g * v).sum() for g, v in zip(grads, direction, strict=True) if g is not None).item()
    eps = 1e-6
    with torch.no_grad():
        for p, v in zip(model_params, direction, strict=True):
            p.add_(eps * v)
    plus = loss_at(5, False).item()
    with torch.no_grad():
        for p, v in zip(model_params, direction, strict=True):
            p.sub_(2 * eps * v)
    minus = loss_at(5, False).item()
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-3, abs=1e-7)


def test_model_step_ignores_policy_and_value():
    """The model loss steps only the model: policy and value parameters stay untouched."""
    algo, real, g_real = _filled()
    before = [p.detach().clone() for p in (*algo.policy.parameters(), *algo.value.parameters())]
    model_before = [p.detach().clone() for p in algo.model.parameters()]
    algo.model_update(real, g_real)
    after = [p.detach() for p in (*algo.policy.parameters(), *algo.value.parameters())]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert any(not torch.equal(a, b.detach()) for a, b in zip(model_before, algo.model.parameters(), strict=True))


# ---------------------------------------------------------------------------------------- the loop
@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("mg", {}),
        ("mg_mle", {}),
        ("mg", {"backbone": "trpo", "model_loss": "l2"}),
        ("mg", {"model_data_ratio": 1.0, "grad_advantage": "return"}),
        ("mg", {"matching_steps": 0, "start_states": "buffer", "value_on_model_data": True}),
    ],
)
def test_iterations_write_finite_diagnostics(name, overrides):
    algo = _mg(name, **overrides)
    assert algo.config.model_objective == ("mle" if name == "mg_mle" else "mg")
    assert algo.train(150) == {k: algo.diagnostics[k] for k in algo.diagnostic_keys}  # no iteration yet: NaN values
    assert algo.env_steps == 150 and algo.diagnostics["mg/iterations"] == 0
    out = algo.train(430)  # two full batches, stops inside the third
    assert algo.env_steps == 430 and algo.batch_count == 30
    for key in algo.diagnostic_keys:
        assert math.isfinite(out[key]), key
    assert out["mg/iterations"] == 2 and out["model/fits"] == 2 and out["policy/updates"] >= 1
    assert -1 <= out["mg/grad_cosine_before"] <= 1 and -1 <= out["mg/grad_cosine_real_split"] <= 1
    assert ("policy/clip_frac" in algo.diagnostic_keys) == (algo.config.backbone == "ppo")


def test_holdout_stride_and_clipped_actions():
    algo, real, _ = _filled(holdout_ratio=0.25)
    assert len(algo.model_data.holdout) == 50 and len(algo.model_data.train) == 150
    acts = torch.cat([algo.model_data.train.all().act, algo.model_data.holdout.all().act])
    assert acts.abs().max().item() <= algo.high  # the model sees what the env received
    assert real["act"].abs().max().item() > algo.high  # the policy's raw Gaussian samples are kept for log pi


# ------------------------------------------------------------------------------------------ resume


@pytest.mark.parametrize("task", ["hopper", "inverted_pendulum"])
def test_the_models_mg_and_mbpo_build_carry_the_same_weight_decays(task):
    """MG says its model is MBPO's: the ensembles both algorithms build (at MG's depth for the task) carry the
    same per-layer L2, at 4 hidden layers the official 2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4 (jannerm/mbpo
    mbpo/models/constructor.py:12-16)."""
    decays = {}
    for name in ("mg", "mbpo"):
        base, layer = resolve(name)
        depth = {"model_layers": resolve_config("mg", task).model_layers}
        config = resolve_config(base, task, layer, {"model_hidden": 8, **depth})
        decays[name] = build(base, config, TASKS[task], torch.device("cpu"), 0).model.weight_decays
    assert decays["mg"] == decays["mbpo"]
    if len(decays["mg"]) == 5:
        assert decays["mg"] == (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)


def test_a_checkpoint_from_before_the_rename_still_loads():
    """MG checkpoints whose step batch named the termination column ``terminal`` load into ``terminated``."""
    trained = _mg()
    trained.train(30)  # inside the first batch
    state = trained.state_dict()
    state["batch"]["terminal"] = state["batch"].pop("terminated")
    fresh = _mg()
    fresh.load_state_dict(state)
    assert set(fresh.batch) == set(trained.batch)
    assert (fresh.batch["terminated"] == trained.batch["terminated"]).all() and fresh.batch_count == 30
