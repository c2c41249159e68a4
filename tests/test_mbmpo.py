"""MB-MPO and its baselines against the official code (jonasrothfuss/model_ensemble_meta_learning@8b1351d):
the batched model rollout with restarts against a step-by-step loop, per-task standardized advantages, the
deterministic ensemble's official early stop and +-1000 clips, the vectorized real sampler and its nominal
step count, the pooled KL, the pre-update logging return, the meta-step's trust region, and exact resume."""

import numpy as np
import pytest
import torch
from helpers import TINY as TINY_CONFIGS
from helpers import micro_suite

from mbrlbench.algorithms.mbmpo import MBMPO, pooled_mean
from mbrlbench.algorithms.registry import build, resolve, resolve_config
from mbrlbench.components.data.sampler import sample_real
from mbrlbench.components.data.trajectories import Trajectories, advantages, model_rollouts, pad_episodes
from mbrlbench.components.models.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.policies.policy_gradient import LinearFeatureBaseline
from mbrlbench.runner.run_config import full_config
from mbrlbench.suite import load_suite
from mbrlbench.tasks import TASKS

TINY = {
    "meta_batch_size": 4,
    "num_models": 2,
    "rollouts_per_task": 5,
    "model_horizon": 15,
    "n_initial_random_steps": 200,
    "real_steps_per_iter": 100,
    "meta_steps": 2,
    "model_hidden": 32,
    "model_max_epochs": 5,
}


def _tiny_model() -> DeterministicEnsemble:
    torch.manual_seed(0)
    model = DeterministicEnsemble(3, 2, members=2, hidden=16)
    model.input_norm.fit(torch.randn(100, 5))
    model.target_norm.fit(torch.randn(100, 4))
    return model


class ResetQueue:
    """Hands out fixed initial states in order (each once) and counts the calls."""

    def __init__(self, states: torch.Tensor) -> None:
        self.states, self.used, self.calls = states, 0, 0

    def __call__(self, k: int) -> torch.Tensor:
        self.calls += 1
        self.used += k
        return self.states[self.used - k : self.used]


def _member_step(model: DeterministicEnsemble, member: int, obs: torch.Tensor, act: torch.Tensor):
    """One model step of one member, by hand; clipped to +-1000 like ``predict``."""
    h = model.input_norm(torch.cat([obs, act])[None])
    for i, layer in enumerate(model.net.layers):
        h = h @ layer.weight[member] + layer.bias[member]
        if i < len(model.net.layers) - 1:
            h = torch.relu(h)
    y = h[0] * model.target_norm.std + model.target_norm.mean
    return (obs + y[1:]).clamp(-1000, 1000), y[0].clamp(-1000, 1000)


def test_batched_rollout_with_restarts_equals_step_by_step_loop():
    """Official sampler (maml_model_vectorized_sampler.py:84-132): slots step together, a terminated or
    horizon-long path restarts its slot from the next fresh reset, sampling stops once the completed paths
    hold the budget, and unfinished paths are discarded."""
    model, horizon, budget = _tiny_model(), 6, 150
    weights = torch.randn(4, 3, 2)  # a deterministic, task-dependent linear policy
    resets = ResetQueue(torch.randn(500, 3))
    traj = model_rollouts(model, lambda o: torch.tanh(o @ weights), resets, (4, 3), horizon, _done, budget)
    steps = traj.obs.shape[2]
    # by hand: every slot in (task, slot) order, restarts handed out in that order after each step
    obs = {(t, n): resets.states[3 * t + n] for t in range(4) for n in range(3)}
    time, used, completed = dict.fromkeys(obs, 0), 12, 0
    rows = {k: [] for k in obs}  # (obs, reward, time) per lockstep step
    ends = {k: 0 for k in obs}  # the lockstep step after the slot's last completed path
    for s in range(steps):
        restart = []
        for t, n in obs:
            act = torch.tanh(obs[t, n] @ weights[t])
            next_obs, reward = _member_step(model, t // 2, obs[t, n], act)
            rows[t, n].append((obs[t, n], reward, time[t, n]))
            if bool(_done(next_obs[None])[0]) or time[t, n] + 1 >= horizon:
                completed += time[t, n] + 1
                time[t, n], ends[t, n] = 0, s + 1
                restart.append((t, n))
            else:
                time[t, n] += 1
            obs[t, n] = next_obs
        if completed >= budget:
            assert s == steps - 1  # the batched loop stops at the same step
            break
        for key in restart:
            obs[key], used = resets.states[used], used + 1
    assert completed >= budget and resets.used == used
    for t, n in obs:
        for s, (o, reward, tau) in enumerate(rows[t, n]):
            valid = float(s < ends[t, n])
            assert torch.allclose(traj.obs[t, n, s], o, atol=1e-5)
            assert torch.allclose(traj.rew[t, n, s], reward * valid, atol=1e-5)
            assert traj.valid[t, n, s].item() == valid and traj.time[t, n, s].item() == tau
    assert int(traj.valid.sum()) == completed
    assert ((traj.time == 0) & (torch.arange(steps) > 0)).any(), "no slot restarted: the test tests nothing"
    assert (traj.time.max(dim=-1).values < horizon - 1).any(), "no early termination"


def _done(obs: torch.Tensor) -> torch.Tensor:
    return obs[..., 0] > 1.0


def test_rollouts_without_termination_keep_one_full_path_per_slot():
    """A never-terminating task (halfcheetah) with the default budget: exactly the fixed-length batch,
    [tasks, slots, horizon], all valid, one reset draw."""
    model, resets = _tiny_model(), ResetQueue(torch.randn(100, 3))
    traj = model_rollouts(
        model, lambda o: torch.zeros(*o.shape[:-1], 2), resets, (4, 3), 7, lambda o: torch.zeros(o.shape[:-1]) > 0
    )
    assert traj.obs.shape == (4, 3, 7, 3) and traj.valid.all() and resets.calls == 1 and resets.used == 12
    assert torch.equal(traj.time, torch.arange(7).expand(4, 3, 7))
    assert traj.continues()[..., :-1].all() and not traj.continues()[..., -1].any()


def _paths(lengths: list[int], seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        {"obs": rng.normal(size=(k, 3)), "act": rng.normal(size=(k, 2)), "rew": rng.normal(2, 3, size=k)}
        for k in lengths
    ]


def _lockstep(paths: list[dict[str, np.ndarray]], width: int) -> Trajectories:
    """The same paths laid end to end in ``len(paths) // 2`` rows (two per row) with ``time``."""
    rows = [paths[i : i + 2] for i in range(0, len(paths), 2)]
    obs, act = np.zeros((len(rows), width, 3), np.float32), np.zeros((len(rows), width, 2), np.float32)
    rew, valid, time = (
        np.zeros((len(rows), width), np.float32),
        np.zeros((len(rows), width), np.float32),
        np.zeros((len(rows), width), np.int64),
    )
    for r, row in enumerate(rows):
        s = 0
        for p in row:
            k = len(p["rew"])
            obs[r, s : s + k], act[r, s : s + k], rew[r, s : s + k] = p["obs"], p["act"], p["rew"]
            valid[r, s : s + k], time[r, s : s + k] = 1.0, np.arange(k)
            s += k
    return Trajectories(*(torch.as_tensor(x) for x in (obs, act, rew, valid, time)))


def test_advantages_within_paths_and_standardized_per_task():
    """Several paths per row (the restarted rollouts) give the advantages of the same paths padded one per
    row (GAE, returns and the baseline's time feature stop at path ends); rllab's center_adv standardizes
    each task's advantages: mean 0 and std 1 over its valid steps (rllab/algos/util.py:7-8)."""
    lengths = [[5, 9, 3, 12, 7, 4], [11, 2, 6, 6, 8, 12]]  # two tasks, six paths each
    tasks_padded, tasks_lockstep = [], []
    for task, ls in enumerate(lengths):
        paths = _paths(ls, seed=task)
        tasks_padded.append(pad_episodes(paths, torch.device("cpu")))
        tasks_lockstep.append(_lockstep(paths, width=25))
    padded = Trajectories(*(torch.stack([getattr(t, f) for t in tasks_padded]) for f in ("obs", "act", "rew", "valid")))
    lock = Trajectories(
        *(torch.stack([getattr(t, f) for t in tasks_lockstep]) for f in ("obs", "act", "rew", "valid", "time"))
    )
    a_pad = advantages(padded, LinearFeatureBaseline(), 0.9, 0.95, center=True, scale=True)
    a_lock = advantages(lock, LinearFeatureBaseline(), 0.9, 0.95, center=True, scale=True)
    for task in range(2):
        flat_pad = a_pad[task][padded.valid[task] > 0]
        flat_lock = torch.cat([a_lock[task][r][lock.valid[task, r] > 0] for r in range(3)])
        pad_rows = torch.cat([a_pad[task][i][: lengths[task][i]] for i in range(6)])
        assert torch.allclose(flat_lock, pad_rows, atol=1e-4)
        assert abs(float(flat_pad.mean())) < 1e-5
        assert float(flat_pad.std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    assert (a_lock * (1 - lock.valid)).abs().max() == 0
    assert lock.mean_path_return() == pytest.approx(float(padded.returns().mean()), rel=1e-5)


def test_meta_step_standardizes_each_tasks_advantages(monkeypatch):
    """rllab center_adv (sandbox/ours/sampler/base.py:350-351 -> rllab/algos/util.py:7-8): the advantages of
    every task, pre- and post-update, have mean 0 and std 1 over its valid steps (not merely mean 0)."""
    import mbrlbench.algorithms.mbmpo as mbmpo_module

    seen = []

    def recording(traj, *args, **kwargs):
        adv = advantages(traj, *args, **kwargs)
        seen.append((adv, traj.valid))
        return adv

    algo = _algo("mbmpo")
    algo.collect_real()
    algo.fit_model()
    monkeypatch.setattr(mbmpo_module, "advantages", recording)
    algo.meta_step()
    assert len(seen) == 2  # pre- and post-update samples
    for adv, valid in seen:
        for a, v in zip(adv, valid, strict=True):
            steps = a[v > 0]
            assert abs(float(steps.mean())) < 1e-4
            assert float(steps.std(unbiased=False)) == pytest.approx(1.0, abs=1e-3)


def test_ensemble_clips_imagined_obs_and_rewards_to_1000():
    """Official clip_obs: next obs clipped to +-1000 (maml_model_vec_env_executor.py:40-41), not to the real
    data's range; the analytic rewards were clipped to +-1000, so the predicted ones are."""
    torch.manual_seed(0)
    x = torch.randn(500, 4)
    y = torch.cat([x[:, :1] * 2, x[:, 1:3] - x[:, 3:]], dim=1)
    model = DeterministicEnsemble(2, 2, members=2, hidden=32)
    model.fit(x, y, batch_size=100, max_epochs=3)
    obs, act = torch.full((2, 4, 2), 20.0), torch.full((2, 4, 2), -20.0)
    next_obs, rew = model.predict(obs, act)
    assert next_obs.abs().max() > (x[:, :2] + y[:, 1:]).abs().max()  # beyond the data: not a data-range clip
    model.target_norm.std.mul_(1e6)  # a diverging model
    next_obs, rew = model.predict(obs, act)
    assert next_obs.abs().max() == 1000 and rew.abs().max() == 1000


def test_deterministic_ensemble_fits_clean_data():
    torch.manual_seed(0)
    x = torch.randn(2000, 4)
    y = torch.cat([x[:, :1] * 2, x[:, 1:3] - x[:, 3:]], dim=1)  # [reward, delta obs] of a 2-dim obs
    model = DeterministicEnsemble(2, 2, members=3, hidden=64, lr=3e-3)
    fit = model.fit(x, y, batch_size=100, max_epochs=60)
    assert fit.val_loss < 0.02  # standardized MSE
    next_obs, rew = model.predict(x[None, :5, :2].expand(3, -1, -1), x[None, :5, 2:].expand(3, -1, -1))
    assert torch.allclose(rew, y[:5, 0].expand(3, -1), atol=0.3)
    assert torch.allclose(next_obs - x[None, :5, :2], y[None, :5, 1:], atol=0.3)


def _official_stop_epochs(history: torch.Tensor, persistence: float = 0.99) -> list[int]:
    """dynamics_ensemble.py:234-243, 254-258 replayed on per-epoch validation losses ``[epochs, members]``."""
    out = []
    for v in history.T.tolist():
        rolling, prev, stop = 1.5 * v[0], 2.0 * v[0], len(v)
        for epoch, loss in enumerate(v, start=1):
            rolling = persistence * rolling + (1 - persistence) * loss
            if prev < rolling:
                stop = epoch
                break
            prev = rolling
        out.append(stop)
    return out


def test_deterministic_ensemble_stops_members_by_the_official_rule():
    """Tiny noisy data, large lr: validation loss climbs; each member stops exactly where the official
    rolling rule (start 1.5x / 2.0x the first loss) says, and keeps its weights from then."""
    torch.manual_seed(0)
    x = torch.randn(60, 4)
    y = torch.cat([x[:, :1], x[:, 1:3]], dim=1) + torch.randn(60, 3)
    model = DeterministicEnsemble(2, 2, members=3, hidden=128, lr=1e-2)
    fit = model.fit(x, y, batch_size=16, max_epochs=400)
    stops = model.stop_epochs.tolist()
    assert stops == _official_stop_epochs(model.val_history)
    assert fit.epochs == max(stops) < 400 and len(set(stops)) > 1  # members stop on their own
    assert model.val_history.shape == (fit.epochs, 3)


def test_warm_refit_on_same_distribution_keeps_training():
    """The official rule's purpose: a warm-started member refitted on more data of the same distribution is
    not stopped by the first uptick of a noisy validation loss (the old rule, started at 1x, stopped all
    four members here by epoch 3; the review's check C1 saw epochs 2-5)."""

    def data(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(n, 6, generator=g)
        y = torch.cat([x[:, :1] - x[:, 1:2], x[:, 2:4] + 0.5 * x[:, 4:6]], 1) + 0.3 * torch.randn(n, 3, generator=g)
        return x, y

    torch.manual_seed(3)
    g = torch.Generator().manual_seed(3)
    x, y = data(1000, g)
    model = DeterministicEnsemble(2, 4, members=4, hidden=32, lr=3e-3)
    model.fit(x, y, batch_size=100, max_epochs=30)
    x2, y2 = data(500, g)
    fit = model.fit(torch.cat([x, x2]), torch.cat([y, y2]), batch_size=100, max_epochs=30)
    assert fit.epochs == 30 and model.stop_epochs.tolist() == [30] * 4


def test_pad_episodes_masks_the_padding():
    eps = [
        {"obs": np.ones((3, 2)), "act": np.ones((3, 1)), "rew": np.array([1.0, 2.0, 3.0])},
        {"obs": np.ones((1, 2)), "act": np.ones((1, 1)), "rew": np.array([5.0])},
    ]
    traj = pad_episodes(eps, torch.device("cpu"))
    assert traj.valid.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert traj.returns().tolist() == [6.0, 5.0]


def _algo(name: str):
    base, layer = resolve(name)
    overrides = TINY if base == "mbmpo" else {"batch_steps": 300}
    config = resolve_config(base, "hopper_h200", layer, overrides)
    torch.manual_seed(0)
    return build(base, config, TASKS["hopper_h200"], torch.device("cpu"), 0)


@pytest.mark.parametrize("name", ["mbmpo", "me_trpo"])
def test_meta_steps_stay_in_the_trust_region(name):
    algo = _algo(name)
    out = algo.train(600)
    # an accepted step that moved the policy (a run whose every step is rejected has KL 0 and must fail)
    assert out["mbmpo/accepted"] == 1.0 and 0.0 < out["mbmpo/kl"] <= algo.config.trpo_max_kl * 1.0001
    assert out["mbmpo/updates"] == out["mbmpo/iteration"] * algo.config.meta_steps
    assert len(algo.adapted) == algo.config.meta_batch_size
    same = all(torch.equal(a["log_std"], algo.adapted[0]["log_std"]) for a in algo.adapted)
    assert same == (name == "me_trpo")  # MAML adapts each task differently; ME-TRPO has one policy
    # the nominal count (official n_timesteps): 200 random, then 100 per iteration; at least that is stored
    assert algo.env_steps == 200 + 100 * (algo.iteration - 1)
    assert len(algo.buffer) == out["mbmpo/real_steps_stored"] >= algo.env_steps
    assert out["mbmpo/real_steps_simulated"] >= out["mbmpo/real_steps_stored"]


class CountdownEnv:
    """An episode of ``length`` steps (terminated at its end); obs = [steps taken in the episode]."""

    def __init__(self, length: int) -> None:
        self.length, self.t, self.seeds = length, 0, []

    def reset(self, seed=None):
        self.seeds.append(seed)
        self.t = 0
        return np.zeros(1), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], float), float(action[0]), self.t == self.length, False, {}


def test_real_sampler_restarts_envs_until_completed_samples_reach_the_target():
    """Official MAMLVectorizedSampler (maml_vectorized_sampler.py:71-133): all envs reset, step together,
    restart after termination, stop once completed paths hold >= target samples; unfinished ones dropped."""
    envs = [CountdownEnv(2), CountdownEnv(3), CountdownEnv(5)]
    paths, simulated = sample_real(envs, lambda obs: np.arange(3.0)[:, None] + 1, target=10, seed=7)
    # steps 1-5: env0 ends at 2 and 4, env1 at 3, env2 at 5 -> 2 + 3 + 2 + 5 = 12 >= 10 after step 5
    assert [len(p["rew"]) for p in paths] == [2, 2, 3, 5]  # grouped by env, as the official per-task dict
    assert simulated == 15 and [e.seeds[0] for e in envs] == [7, 8, 9]
    assert [float(p["rew"][0]) for p in paths] == [1.0, 1.0, 2.0, 3.0]  # env i ran action i + 1
    assert paths[0]["terminated"].tolist() == [0.0, 1.0] and paths[0]["next_obs"][:, 0].tolist() == [1.0, 2.0]
    # each stored observation is the state it was taken in (the sampler reuses its obs array between steps)
    for path in paths:
        assert path["obs"][:, 0].tolist() == [0.0, *path["next_obs"][:-1, 0].tolist()]


def test_first_iteration_collects_like_the_official_random_sampler():
    """halfcheetah_h200 at the paper's settings: 20 random envs of 200 steps reach 4,000 < 5,000 completed
    samples, so another round: 8,000 stored, counted as 5,000 (model_batch_maml_polopt.py:229-237)."""
    config = resolve_config("mbmpo", "halfcheetah_h200", {})
    torch.manual_seed(0)
    algo = MBMPO(config, TASKS["halfcheetah_h200"], torch.device("cpu"), 0)
    algo.collect_real()
    assert algo.env_steps == 5000 and algo.stored_steps == len(algo.buffer) == 8000 == algo.simulated_steps
    assert algo.pop_train_return() == pytest.approx(algo.diagnostics["mbmpo/post_update_return"])


def test_pooled_kl_weighs_tasks_by_their_sample_counts():
    """model_maml_npo.py:147: one mean over the samples of all tasks, not a mean of per-task means."""
    values = [torch.full((2, 3), 1.0), torch.full((2, 3), 4.0)]
    valid = torch.tensor([[[1.0, 1, 1], [1, 1, 1]], [[1.0, 1, 0], [0, 0, 0]]])  # 6 and 2 samples
    assert pooled_mean(values, valid).item() == pytest.approx((6 * 1.0 + 2 * 4.0) / 8)


def test_pre_update_return_is_logged_before_training_and_not_counted(monkeypatch):
    """Official order (model_batch_maml_polopt.py:251-295): real data, then the PrePolicy logging rollouts
    (not counted, not stored), then the model fit and the meta-steps."""
    algo = _algo("mbmpo")
    calls = []
    for name in ("collect_real", "logging_return", "fit_model", "meta_step"):
        method = getattr(algo, name)
        monkeypatch.setattr(algo, name, lambda m=method, n=name: (calls.append(n), m())[1])
    out = algo.train(200)
    assert calls == ["collect_real", "logging_return", "fit_model", "meta_step", "meta_step"]
    assert algo.env_steps == 200 and len(algo.buffer) == algo.stored_steps
    assert np.isfinite(out["mbmpo/pre_update_return"])


@pytest.mark.parametrize("name", ["mbmpo", "me_trpo", "trpo", "ppo"])
def test_config_names_the_column_the_paper_reports(tmp_path, name):
    """config.yaml's ``paper_metric`` is what the report compares with the paper: MB-MPO and its variants the
    PrePolicy return (``mbmpo/pre_update_return``), TRPO/PPO rllab's AverageReturn of the training episodes."""
    overrides = TINY_CONFIGS[name]
    suite = micro_suite(tmp_path, "micro", "hopper_h200", name, overrides, seed=2, env_steps=900, every=300, episodes=1)
    (spec,) = load_suite(suite).runs
    mbmpo = resolve(name)[0] == "mbmpo"
    metric = full_config(spec, torch.device("cpu"))["paper_metric"]
    assert metric == ("mbmpo/pre_update_return" if mbmpo else "train_return")
