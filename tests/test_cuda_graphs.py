"""The replay protocol of ``GraphedStep`` on a fake CUDA runtime (CPU): every call is exactly one real step, on
the batch it was given. (That a real graph computes what the eager step does is checked in test_cuda.py.)"""

import contextlib
from types import SimpleNamespace

import torch

from mbrlbench.components import cuda_graphs
from mbrlbench.components.cuda_graphs import GraphedStep
from mbrlbench.components.data.buffers import Batch


class FakeGraph:
    """Records the step during a capture (which runs nothing, as on a GPU) and runs it on replay."""

    capturing: "FakeGraph | None" = None

    def __init__(self) -> None:
        self.recorded = None

    def replay(self) -> None:
        self.recorded()


@contextlib.contextmanager
def fake_capture(graph: FakeGraph):
    FakeGraph.capturing = graph
    try:
        yield
    finally:
        FakeGraph.capturing = None


def test_every_call_is_one_step_on_its_own_batch(monkeypatch):
    fake_cuda = SimpleNamespace(
        Stream=lambda: SimpleNamespace(wait_stream=lambda s: None),
        current_stream=lambda: SimpleNamespace(wait_stream=lambda s: None),
        stream=lambda s: contextlib.nullcontext(),
        CUDAGraph=FakeGraph,
        graph=fake_capture,
    )
    monkeypatch.setattr(cuda_graphs.torch, "cuda", fake_cuda)
    seen: list[tuple[float, bool]] = []

    def step(batch: Batch, flag: bool) -> None:
        def run() -> None:
            seen.append((float(batch.rew.sum()), flag))

        if FakeGraph.capturing is not None:
            FakeGraph.capturing.recorded = run  # a capture records the kernels reading the static inputs
        else:
            run()

    graphed = GraphedStep(step)
    calls = []
    for i in range(8):
        flag = i % 3 == 0
        batch = Batch(*(torch.full((4,), float(i)) for _ in range(5)))
        graphed(batch, flag)
        calls.append((4.0 * i, flag))
    assert seen == calls  # each call ran once, on its own data, with its own flags
    assert set(graphed.graphs) == {(True,), (False,)}
    graphed.reset()
    assert not graphed.graphs and not graphed.warmed
