"""CUDA: the same numbers as on CPU, no host syncs inside the SAC update, every algorithm runs and resumes.

Skipped without a GPU (this project's CI has none); a GPU session runs them with ``benchmarks/gpu_session.sh``.
"""

import copy

import pandas as pd
import pytest
import torch
import yaml
from helpers import TINY, micro_suite, unbroken_and_resumed

from mbrlbench.components.data.buffers import Batch, ReplayBuffer
from mbrlbench.components.models.ensemble import ProbabilisticEnsemble
from mbrlbench.components.policies.sac import SAC, SACSettings

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# algorithm -> (task, tiny overrides, env_steps, eval every, stop_at): each base algorithm (the variants share
# their code paths) with the tiny settings of the CPU resume test (helpers.TINY, the smoke suite's); the GPU
# session gives this file 100 s
CASES = {
    name: ("inverted_pendulum", TINY[name], 600, 200, 350) for name in ("mbpo", "sac", "mnm", "tom", "mbmpo", "mg")
}


def test_ensemble_loss_and_gradients_match_cpu():
    torch.manual_seed(0)
    cpu = ProbabilisticEnsemble(11, 3, members=7, elites=5, hidden=200, layers=4)
    inputs, targets = torch.randn(7, 256, 14), torch.randn(7, 256, 12)
    cpu.normalizer.fit(inputs.reshape(-1, 14))
    gpu = copy.deepcopy(cpu).cuda()
    losses = []
    for model, device in ((cpu, "cpu"), (gpu, "cuda")):
        loss = model.nll_loss(inputs.to(device), targets.to(device))
        loss.backward()
        losses.append(loss.detach().cpu())
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=1e-4)
    for p_cpu, p_gpu in zip(cpu.parameters(), gpu.parameters(), strict=True):
        torch.testing.assert_close(p_gpu.grad.cpu(), p_cpu.grad, rtol=1e-3, atol=1e-5)


def test_grouped_forward_matches_batched_forward():
    torch.manual_seed(1)
    model = ProbabilisticEnsemble(11, 3, members=7, elites=5).cuda()
    x = torch.randn(1000, 14, device="cuda")
    member = torch.randint(7, (1000,), device="cuda")
    grouped = model.net.forward_grouped(x, member)
    batched = model.net(x)[member, torch.arange(1000, device="cuda")]
    torch.testing.assert_close(grouped, batched, rtol=1e-4, atol=1e-5)


def _random_buffer(n: int) -> ReplayBuffer:
    """A CUDA replay buffer of ``n`` random transitions (11-dim observations, 3-dim actions)."""
    buffer = ReplayBuffer(n, 11, 3, device="cuda")
    buffer.add(torch.randn(n, 11), torch.rand(n, 3), torch.randn(n), torch.randn(n, 11), torch.zeros(n))
    return buffer


def test_sac_update_and_batch_sampling_do_not_sync_the_host():
    """The claim of docs/performance.md: no per-update host syncs (a sync would stall the GPU queue)."""
    torch.manual_seed(2)
    sac = SAC(11, 3, low=-1.0, high=1.0, settings=SACSettings(), device=torch.device("cuda"))
    buffer = _random_buffer(5000)
    sac.update(buffer.sample(256))  # first step: lazy optimizer state
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(20):
            sac.update(buffer.sample(256))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    diagnostics = sac.pop_diagnostics()
    assert all(torch.isfinite(torch.tensor(v)) for v in diagnostics.values())


def _sac_pair(monkeypatch, **settings) -> tuple[SAC, SAC]:
    """An eager and a graphed SAC with equal weights whose policy noise is zero, so that their updates must
    agree although a graph draws its random numbers at other offsets. (A tiny std is not enough: log pi holds
    eps^2 whatever the std, and the temperature step follows log pi.)"""
    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)
    pair = []
    for graphed in (False, True):
        torch.manual_seed(3)
        pair.append(SAC(11, 3, -1.0, 1.0, SACSettings(cuda_graph=graphed, **settings), torch.device("cuda")))
    return pair[0], pair[1]


def _assert_same_weights(a: SAC, b: SAC) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4)


def test_graphed_sac_update_equals_eager_for_every_flag_combination(monkeypatch):
    eager, graphed = _sac_pair(monkeypatch, actor_update_interval=2, target_update_interval=3)
    torch.manual_seed(4)
    shapes = [(256, 11), (256, 3), (256,), (256, 11), (256,)]
    batches = [Batch(*(torch.randn(s, device="cuda") for s in shapes)) for _ in range(4)]
    for i in range(24):  # (actor, target) takes all 4 values; each warmed up, captured, then replayed twice or more
        eager.update(batches[i % 4])
        graphed.update(batches[i % 4])
    assert graphed._graphed is not None and len(graphed._graphed.graphs) == 4
    _assert_same_weights(eager, graphed)
    diag_eager, diag_graphed = eager.pop_diagnostics(), graphed.pop_diagnostics()
    assert diag_graphed["sac/updates"] == diag_eager["sac/updates"] == 24
    for key in ("sac/q_loss", "sac/policy_loss", "sac/alpha"):
        assert diag_graphed[key] == pytest.approx(diag_eager[key], rel=1e-3, abs=1e-4)


def test_graphed_sac_recaptures_after_loading_a_checkpoint(monkeypatch):
    eager, graphed = _sac_pair(monkeypatch)
    buffer = _random_buffer(1000)
    for _ in range(5):
        batch = buffer.sample(256)
        eager.update(batch)
        graphed.update(batch)
    # a resume (from copies, as a checkpoint file gives; the optimizers ride in the module's extra state): new
    # optimizer-state tensors, graphs must be rebuilt
    graphed.load_state_dict(copy.deepcopy(eager.state_dict()))
    for _ in range(5):
        batch = buffer.sample(256)
        eager.update(batch)
        graphed.update(batch)
    _assert_same_weights(eager, graphed)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", CASES)
def test_runs_on_cuda_and_resumes(tmp_path, algorithm):
    task, overrides, env_steps, every, stop_at = CASES[algorithm]
    fields = {"seed": 1, "env_steps": env_steps, "every": every, "episodes": 2}
    suite = micro_suite(tmp_path, f"cuda_{algorithm}", task, algorithm, overrides, device="cuda", **fields)
    unbroken, resumed = unbroken_and_resumed(tmp_path, suite, stop_at=stop_at)
    # GPU kernels need not be bitwise deterministic: the same rows, finite, not necessarily equal numbers.
    assert resumed["env_step"].tolist() == unbroken["env_step"].tolist()
    assert unbroken["env_step"].is_unique and unbroken["env_step"].iloc[-1] >= env_steps - every
    for frame in (unbroken, resumed):
        assert frame["eval_return_mean"].notna().all()
    config = yaml.safe_load(next((tmp_path / "unbroken").rglob("config.yaml")).read_text())
    assert config["recorded"]["device"].startswith("cuda")
    assert pd.api.types.is_numeric_dtype(unbroken["eval_return_mean"])
