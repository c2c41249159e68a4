"""MnM: the classifier's log-ratio estimate against two known Gaussians (hard and soft labels), the model value
step's gradient reaching only the model, the sign of the reward augmentation, and an exact resume."""

import math

import pytest
import torch

from mbrlbench.algorithms.mnm import AugmentedModel, MnM, MnMConfig, augmented_reward
from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.data.rollouts import branched_rollout
from mbrlbench.components.estimators.classifier import StandardizedClassifier, classifier_loss, optimal_logit
from mbrlbench.tasks import get_task

# Real s' = s + N(0, 1); model s' = s + N(0.5, 1.5^2): log p/q of the delta d = s' - s is known in closed form.
MU_Q, SD_Q = 0.5, 1.5


def _log_normal(x: torch.Tensor, mu: float, sd: float) -> torch.Tensor:
    return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)


def _transitions(n: int, model: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    obs, act = torch.randn(n, 1), torch.rand(n, 1) * 2 - 1
    delta = MU_Q + SD_Q * torch.randn(n, 1) if model else torch.randn(n, 1)
    return obs, act, obs + delta


def _trained_classifier(neg_label: float, steps: int = 600, batch: int = 256) -> StandardizedClassifier:
    torch.manual_seed(0)
    clf = StandardizedClassifier(1, 1, hidden=64, layers=2, activation="relu", use_delta=True)
    clf.fit_stats(*_transitions(20000, model=False))
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matmuls: one thread is several times faster on a shared CPU
    try:
        for _ in range(steps):
            pos = clf.features(*_transitions(batch, model=False))
            neg = clf.features(*_transitions(batch, model=True))
            loss, _ = classifier_loss(clf.net, pos, neg, 1.0, neg_label)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return clf


def _bulk_points() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Points where both densities have mass: |d| <= 1.5, s within one std; and the true log p/q there."""
    torch.manual_seed(1)
    d = torch.linspace(-1.5, 1.5, 201)[:, None]
    obs, act = torch.randn(201, 1).clamp(-1, 1), torch.rand(201, 1) * 2 - 1
    true = (_log_normal(d, 0.0, 1.0) - _log_normal(d, MU_Q, SD_Q)).squeeze(-1)
    return obs, act, obs + d, true


def test_classifier_logit_estimates_the_log_density_ratio():
    clf = _trained_classifier(neg_label=0.0)
    obs, act, next_obs, true = _bulk_points()
    with torch.no_grad():
        logit = clf(obs, act, next_obs)
    assert (logit - true).abs().mean() < 0.15
    assert torch.corrcoef(torch.stack([logit, true]))[0, 1] > 0.95


def test_smoothed_classifier_matches_the_smoothed_optimal_logit():
    neg_label = 0.2  # large, so the smoothed optimum differs clearly from the true ratio
    clf = _trained_classifier(neg_label=neg_label)
    obs, act, next_obs, true = _bulk_points()
    with torch.no_grad():
        logit = clf(obs, act, next_obs)
    expected = optimal_logit(true, 1.0, neg_label)
    assert (logit - expected).abs().mean() < 0.15
    assert (expected - true).abs().mean() > 0.3  # the test tells the two apart
    # the default soft label bounds the optimal logit below by -5, the notebook's KL clip
    b = MnMConfig().classifier_neg_label
    assert math.isclose(float(optimal_logit(torch.tensor(-50.0), 1.0, b)), -5.0, abs_tol=0.01)


def _tiny_mnm(**overrides) -> MnM:
    torch.manual_seed(0)
    settings = {
        "ensemble_size": 3,
        "num_elites": 2,
        "model_hidden": 16,
        "model_layers": 2,
        "sac_hidden": 16,
        "classifier_hidden": 16,
        "model_value_batch_size": 32,
        "model_batch_size": 32,
        "classifier_batch_size": 32,
        "rollout_batch_size": 50,
        "replay_size": 1000,
        **overrides,
    }
    algo = MnM(MnMConfig(**settings), get_task("inverted_pendulum"), torch.device("cpu"), seed=0)
    n = 200
    obs = torch.randn(n, algo.obs_dim) * 0.05
    act = torch.rand(n, algo.act_dim) * 6 - 3
    algo.env_buffer.add(obs, act, torch.ones(n), obs + 0.01 * torch.randn_like(obs), torch.zeros(n))
    algo.classifier.fit_stats(obs, act, obs)
    return algo


def _params(*modules) -> list[torch.Tensor]:
    return [p for m in modules for p in m.parameters()]


def test_model_value_gradient_reaches_the_model_only():
    algo = _tiny_mnm()
    batch = algo.env_buffer.sample(32)
    loss = algo.model_value_loss(batch.obs, batch.act)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in algo.model.net.parameters())
    assert all(p.grad is None for p in _params(algo.classifier, algo.sac))
    assert all(p.requires_grad for p in _params(algo.classifier, algo.sac.actor, algo.sac.critic))  # restored

    # a whole value phase (no classifier steps in between) moves the model and nothing else
    algo = _tiny_mnm(classifier_steps_per_value_step=0, model_value_steps=3)
    frozen_before = [p.detach().clone() for p in _params(algo.classifier, algo.sac)]
    model_before = [p.detach().clone() for p in algo.model.net.parameters()]
    algo.model_value_phase()
    assert all(torch.equal(a, b) for a, b in zip(frozen_before, _params(algo.classifier, algo.sac), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(model_before, algo.model.net.parameters(), strict=True))


def test_value_term_pushes_samples_toward_higher_logit():
    """With the value and MLE terms off, the model step raises the classifier's logit on its samples."""
    algo = _tiny_mnm(mle_weight=0.0, model_value_lr=1e-2, gamma=1e-6)
    batch = algo.env_buffer.sample(256)

    def objective() -> torch.Tensor:
        torch.manual_seed(11)  # the same elites and noise each time
        return -algo.model_value_loss(batch.obs, batch.act)

    with torch.no_grad():
        before = objective()
    for _ in range(30):
        algo.model_value_opt.zero_grad()
        (-objective()).backward()
        algo.model_value_opt.step()
    with torch.no_grad():
        after = objective()
    assert after > before


def test_reward_augmentation_sign_clip_and_log_form():
    rew = torch.tensor([1.0, 1.0, 1.0, 2.0])
    logit = torch.tensor([2.0, -2.0, -50.0, 0.0])
    out = augmented_reward(rew, logit, MnMConfig(reward_lambda=0.5, logit_clip=5.0))
    assert torch.allclose(out, torch.tensor([2.0, 0.0, 1.0 - 2.5, 2.0]))  # realistic up, unrealistic down
    log_form = augmented_reward(
        rew, logit, MnMConfig(reward_form="log", gamma=0.9, log_reward_floor=1e-3, reward_lambda=1.0)
    )
    assert torch.allclose(log_form, 0.1 * torch.log(rew) + logit.clamp(-5, 5))
    floored = augmented_reward(torch.tensor([-3.0]), torch.zeros(1), MnMConfig(reward_form="log", gamma=0.9))
    assert torch.allclose(floored, torch.tensor([0.1 * math.log(1e-3)]))


class _ConstantModel:
    def sample(self, obs, act):
        return obs + 1.0, torch.full((obs.shape[0],), 3.0)


class _ConstantLogit(torch.nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, obs, act, next_obs):
        return torch.full((obs.shape[0],), self.value)


def test_rollouts_store_the_augmented_reward():
    for value in (-1.5, 0.7):
        wrapper = AugmentedModel(_ConstantModel(), _ConstantLogit(value), MnMConfig(reward_lambda=2.0))
        out = ReplayBuffer(100, 2, 1)
        never = lambda o: torch.zeros(o.shape[0], dtype=torch.bool)  # noqa: E731
        branched_rollout(wrapper, lambda o: torch.zeros(o.shape[0], 1), never, torch.zeros(10, 2), 3, out)
        assert torch.allclose(out.all().rew, torch.full((30,), 3.0 + 2.0 * value))
        assert wrapper.means() == pytest.approx((value, 2.0 * value))
