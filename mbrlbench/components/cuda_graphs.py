"""A training step replayed from CUDA graphs, for GPUs where an eager step is bound by kernel launches.

An eager SAC update launches over a hundred small kernels; on a GPU their launch latency, not arithmetic,
sets its cost. A CUDA graph records the kernels once and replays them with one launch. Opt-in
(``sac_cuda_graph``) and CUDA only: the same math as the eager step, but random draws come from the graph's
own offsets of the same generator, so a graphed run is reproducible, not bitwise equal to an eager one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch

from mbrlbench.components.data.buffers import Batch


class GraphedStep:
    """``step(batch, *flags)`` replayed from one CUDA graph per flag combination (e.g. with/without actor step).

    The first call of a combination runs eagerly on a side stream (PyTorch's warm-up before a capture: lazy
    optimizer state, cuBLAS workspaces); the second is captured (a capture runs nothing) and then replayed; later
    calls copy the batch into the graph's static inputs and replay. Every call is one real step: nothing is run
    twice or undone. The graphs hold the addresses of every tensor the step touches, so ``reset()`` must follow
    anything that replaces such a tensor (loading optimizer state from a checkpoint does).
    """

    def __init__(self, step: Callable[..., None]) -> None:
        self.step = step
        self.warmed: set[Hashable] = set()
        self.graphs: dict[Hashable, torch.cuda.CUDAGraph] = {}
        self.inputs: dict[Hashable, Batch] = {}

    def __call__(self, batch: Batch, *flags: bool) -> None:
        if flags in self.graphs:
            for slot, new in zip(self.inputs[flags], batch, strict=True):
                slot.copy_(new)
            self.graphs[flags].replay()
        elif flags not in self.warmed:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.step(batch, *flags)
            torch.cuda.current_stream().wait_stream(side)
            self.warmed.add(flags)
        else:
            static = Batch(*(t.clone() for t in batch))
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.step(static, *flags)
            graph.replay()
            self.graphs[flags], self.inputs[flags] = graph, static

    def reset(self) -> None:
        self.warmed.clear()
        self.graphs.clear()
        self.inputs.clear()
