"""TOM: the dual objective and weights by hand, the mixture density model's likelihood, weighted sampling
of model minibatches and rollout starts, the discriminator, and exact resume of a tom run."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mbrlbench.algorithms.registry import build, resolve, resolve_config
from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.estimators.occupancy import DualValue, dual_loss, effective_sample_size, importance_weights
from mbrlbench.components.models.ensemble import ProbabilisticEnsemble
from mbrlbench.components.models.mdn import MixtureDensityModel
from mbrlbench.tasks import TASKS

TINY = {
    "n_initial_exploration_steps": 100,
    "min_pool_size": 100,
    "epoch_length": 100,
    "model_train_freq": 100,
    "rollout_batch_size": 200,
    "n_train_repeat": 4,
    "model_hidden": 16,
    "model_layers": 2,
    "model_max_epochs": 2,
    "mdn_batches_per_epoch": 5,
    "sac_hidden": 16,
    "batch_size": 32,
    "policy_pool_size": 100,
    "disc_passes": 2,
    "disc_hidden": 16,
    "q_steps": 10,
    "q_hidden": 16,
    "q_batch_size": 32,
}


def _tom(name: str = "tom", **overrides):
    base, layer = resolve(name)
    config = resolve_config(base, "inverted_pendulum", layer, TINY, overrides)
    torch.manual_seed(0)
    return build(base, config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)


# ---------------------------------------------------------------- dual objective and weights
def test_dual_loss_and_weights_by_hand():
    e = torch.tensor([-2.0, 0.0, 1.0])
    initial = torch.tensor([1.0, 3.0])
    # chi-square: (1 - 0.9) * mean(1, 3) + mean(f*(e)), f*(x) = x^2/2 + x -> (0 + 0 + 1.5) / 3
    assert dual_loss(initial, e, 0.9, "chi").item() == pytest.approx(0.2 + 0.5)
    # KL: log-mean-exp of the residuals
    expected_kl = 0.2 + math.log((math.exp(-2) + 1 + math.e) / 3)
    assert dual_loss(initial, e, 0.9, "kl").item() == pytest.approx(expected_kl, rel=1e-6)
    assert importance_weights(e, "chi").tolist() == [0.0, 1.0, 2.0]  # ReLU(e + 1)
    assert importance_weights(e, "kl").tolist() == pytest.approx([math.exp(-2), 1.0, math.e])
    assert effective_sample_size(torch.ones(4)).item() == pytest.approx(1.0)
    assert effective_sample_size(torch.tensor([1.0, 0, 0, 0])).item() == pytest.approx(0.25)


def test_dual_residual_uses_done_and_policy():
    dual = DualValue(1, 1, gamma=0.5)
    dual.q = lambda obs, act: (obs + act).squeeze(-1)  # Q(s, a) = s + a, by hand
    obs, act = torch.tensor([[1.0], [1.0]]), torch.tensor([[2.0], [2.0]])
    next_obs, reward, done = torch.tensor([[4.0], [4.0]]), torch.tensor([0.5, 0.5]), torch.tensor([0.0, 1.0])
    e = dual.residual(obs, act, reward, next_obs, done, policy=lambda s: torch.ones_like(s))
    # 0.5 + 0.5 * (1 - d) * Q(4, 1) - Q(1, 2) = 0.5 + 2.5 (1 - d) - 3
    assert e.tolist() == pytest.approx([0.0, -2.5])


# --------------------------------------------------------------------- mixture density model
def test_mdn_nll_matches_torch_distributions():
    torch.manual_seed(0)
    model = MixtureDensityModel(3, 2, components=4, hidden=8, layers=2)
    x, y = torch.randn(5, 5), torch.randn(5, 4)
    mean, var, log_pi = model(x)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=log_pi), torch.distributions.Normal(mean, var.sqrt())
    )
    expected = -mixture.log_prob(y).mean(dim=-1)
    assert torch.allclose(model.nll(mean, var, log_pi, y), expected, atol=1e-5)


def test_mdn_samples_follow_the_mixture():
    torch.manual_seed(0)
    model = MixtureDensityModel(1, 1, components=2, hidden=4, layers=1)
    with torch.no_grad():  # a fixed bimodal output: components at -3 and +3 with weights 0.25 / 0.75
        model.head.weight.zero_()
        bias = torch.zeros(3, 2, 2)
        bias[0, :, :] = torch.tensor([-3.0, 3.0])
        bias[1, :, :] = -10.0  # tiny variance
        bias[2, :, :] = torch.log(torch.tensor([0.25, 0.75]))
        model.head.bias.copy_(bias.flatten())
        model.noise.fill_(-20.0)
    next_obs, reward = model.sample(torch.zeros(20_000, 1), torch.zeros(20_000, 1))
    assert (reward > 0).float().mean().item() == pytest.approx(0.75, abs=0.02)
    assert reward.abs().sub(3).abs().max().item() < 0.1
    assert (next_obs > 0).float().mean().item() == pytest.approx(0.75, abs=0.02)


@pytest.mark.parametrize("mode", ["sample", "loss"])
def test_weighted_fit_fits_the_weighted_rows(mode):
    """Same inputs, targets +1 on half the rows and -1 on the other: weights on the +1 half pull the
    prediction there, for the MDN and for the ensemble."""
    torch.manual_seed(0)
    n = 2000
    inputs = torch.randn(n, 3)
    targets = torch.where(torch.arange(n)[:, None] % 2 == 0, 1.0, -1.0).expand(n, 3).clone()
    weights = (torch.arange(n) % 2 == 0).float() * 10 + 0.01
    mdn = MixtureDensityModel(2, 1, components=2, hidden=32, layers=2, batches_per_epoch=50)
    mdn.fit(inputs, targets, weights=weights, weight_mode=mode, max_epochs=5)
    mean, _, log_pi = mdn(mdn.input_norm(inputs[:200]))
    predicted = mdn.mixture_mean(mean, log_pi) * mdn.target_norm.std + mdn.target_norm.mean
    assert predicted.mean().item() > 0.6
    ensemble = ProbabilisticEnsemble(2, 1, members=2, elites=1, hidden=32, layers=2, weight_decays=[0, 0, 0])
    ensemble.fit(inputs, targets, weights=weights, weight_mode=mode, max_epochs=30, patience=100)
    mean, _ = ensemble(inputs[:200])
    assert mean.mean().item() > 0.6


# ----------------------------------------------------------- weighted sampling inside the algorithm
def test_rollout_starts_follow_the_weights():
    """TOM's rollout start states are drawn from the buffer with probability proportional to the weights:
    a chi-square goodness-of-fit test on the counts of each buffer row, whose obs are made unique."""
    algo = _tom(rollout_batch_size=20_000)
    n = 50
    for i in range(n):
        algo.env_buffer.add(np.full(4, float(i)), np.zeros(1), 0.0, np.zeros(4), 0.0)
    weights = torch.arange(1, n + 1, dtype=torch.float32)  # row i (oldest first) has weight i + 1
    algo.occupancy_weights = lambda data: weights
    captured = {}
    algo.rollout = lambda epoch, start, fit: captured.setdefault("start", start)
    algo.fit_model = lambda data, w=None: None
    algo.train_model_and_rollout(epoch=0)
    counts = np.bincount(captured["start"][:, 0].long().numpy(), minlength=n)
    expected = weights.numpy() / weights.sum().item() * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    uniform = np.full(n, counts.sum() / n)
    assert stats.chisquare(counts, uniform).pvalue < 1e-6  # and clearly not uniform


def test_discriminator_separates_different_and_not_equal_distributions():
    algo = _tom(disc_passes=150, disc_hidden=64)
    torch.manual_seed(1)

    def batch(shift: float, n: int) -> Batch:
        obs = torch.randn(n, 4) + shift
        return Batch(obs, torch.randn(n, 1), torch.zeros(n), obs + 0.1 * torch.randn(n, 4), torch.zeros(n))

    recent, buffer = batch(2.0, 256), batch(-2.0, 2048)
    logits = algo.train_discriminator(recent, buffer)
    assert algo.diagnostics["tom/disc_acc"] > 0.9
    assert logits.mean().item() < 0  # the buffer rows look unlike the recent ones
    recent, buffer = batch(0.0, 256), batch(0.0, 2048)
    logits = algo.train_discriminator(recent, buffer)
    assert algo.diagnostics["tom/disc_acc"] < 0.65
    # labels (1, 0.1) on equal distributions: the optimum is sigma = 0.55, logit log(0.55 / 0.45) = 0.2
    assert logits.mean().item() == pytest.approx(math.log(0.55 / 0.45), abs=0.25)


def test_uniform_variant_skips_the_learned_weights():
    algo = _tom("tom_uniform")
    assert "tom/disc_acc" not in algo.diagnostic_keys and "tom/q_loss" not in algo.diagnostic_keys
    out = algo.train(300)
    assert out["tom/weight_ess"] == 1.0 and out["model/fits"] >= 2
    assert algo.disc is None


def test_tom_weights_favour_recent_transitions():
    """The learned weights put more mass on the newest transitions (the current policy's pool) than on the oldest,
    as official ``weight_vs_position``; tested where the weights are computed (``occupancy_weights``), on a buffer
    whose newest pool is clearly unlike its older rows (states around +2, older ones around -2), so that the
    ordering holds by a wide margin (newest 2.2-2.4, oldest 0.11 or less on the 9 seeds tried), not by rounding."""
    algo = _tom(disc_passes=150, disc_hidden=64)  # a discriminator trained enough to tell the two apart
    old, new = 400, algo.config.policy_pool_size
    g = torch.Generator().manual_seed(2)
    for n, centre in ((old, -2.0), (new, 2.0)):  # oldest first
        obs = centre + torch.randn(n, 4, generator=g)
        act = 0.5 * centre + 0.1 * torch.randn(n, 1, generator=g)
        algo.env_buffer.add(obs, act, torch.zeros(n), obs + 0.01 * torch.randn(n, 4, generator=g), torch.zeros(n))
    algo.initial_obs = [np.full(4, -2.0, np.float32)]  # episodes start among the old states
    algo.exploration_end, algo.env_steps = 0, old + new  # the policy has filled its pool: weighting is on
    weights = algo.occupancy_weights(algo.env_buffer.all())
    assert weights is not None and weights.shape == (old + new,)
    out = algo.diagnostics
    assert out["tom/weight_newest"] > 1.5 and out["tom/weight_oldest"] < 0.5  # vs 1 for uniform weights
    assert out["tom/weight_ess"] < 0.5


def test_tom_short_run_writes_finite_non_uniform_weights():
    """On a short run the learned weights are finite and not uniform (ESS below 1). Which end of that run's buffer
    gets more weight is not asserted: after a few hundred steps it is the seed's (and so the float rounding's)
    call, the newest pool winning on seeds 0, 2, 4 and losing on 1, 3."""
    algo = _tom(disc_passes=30)
    out = algo.train(500)
    for key in algo.diagnostic_keys:
        assert math.isfinite(out[key]), key
    assert out["tom/weight_ess"] < 1.0
    assert out["sac/updates"] == pytest.approx(4 * math.ceil(400 / 4))  # 4 updates every 4th step


def _record_fits(algo) -> list[dict]:
    """Wraps the model's ``fit`` to record what each call got."""
    calls, fit = [], algo.model.fit

    def recording(inputs, targets, **kw):
        calls.append({"inputs": inputs.clone(), **kw})
        return fit(inputs, targets, **kw)

    algo.model.fit = recording
    return calls


def test_weighting_starts_after_the_policy_fills_the_current_pool():
    """Official mbpo.py:163: TOM weights only once ``cur_pol_pool`` (no exploration data) holds
    ``policy_pool_size`` transitions; earlier fits are uniform with the MDN's default holdout 0.2."""
    algo = _tom()  # exploration 100 steps, fits every 100, policy pool 100
    calls = _record_fits(algo)
    algo.train(201)  # fits at 100 (0 policy steps) and 200 (100 policy steps)
    assert [c["weights"] is None for c in calls] == [True, False]
    assert [c["holdout_ratio"] for c in calls] == [0.2, 0.1]


def test_model_fits_a_resample_of_the_buffer_with_replacement():
    """Official ``ReplayMemory.sample(len(pool))`` (mbpo.py:285, utils.py:105): the model's data is a bootstrap
    of the buffer: as many rows, about 1 - 1/e of them distinct."""
    algo = _tom()
    calls = _record_fits(algo)
    algo.train(101)
    rows = calls[0]["inputs"]
    distinct = torch.unique(rows, dim=0).shape[0]
    assert rows.shape[0] == 100  # the buffer at the fit (exploration's 100 steps)
    assert 0.5 < distinct / rows.shape[0] < 0.75


def test_tom_uses_its_own_sac_and_per_step_real_data():
    """TOM's official SAC is pranz24-style (env-unit log pi, target -|A|) and pushes real data every step."""
    algo = _tom()
    assert algo.config.sac_flavor == "pranz24" and algo.sac.actor.env_unit_log_prob
    assert algo.config.real_data_insert == "step" and algo.sac.settings.target_entropy == -1.0


# ------------------------------------------------------------------------------------ resume
