"""Replay buffers preallocated on the training device; sampling is index arithmetic there."""

from __future__ import annotations

from typing import NamedTuple

import torch

FIELDS = ("obs", "act", "rew", "next_obs", "terminated")
RESIZE_CHUNK = 1 << 20  # rows moved per copy when a buffer is reallocated


class Batch(NamedTuple):
    obs: torch.Tensor
    act: torch.Tensor
    rew: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor  # float 0/1: 1 only for true terminations (never for time-limit truncations)

    @staticmethod
    def cat(a: Batch, b: Batch) -> Batch:
        return Batch(*(torch.cat([x, y]) for x, y in zip(a, b, strict=True)))


class ReplayBuffer:
    """FIFO ring buffer of transitions. ``resize`` keeps the newest transitions (MBPO's model pool is
    reallocated whenever the rollout length changes)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu") -> None:
        self.obs_dim, self.act_dim, self.device = obs_dim, act_dim, torch.device(device)
        self.capacity = int(capacity)
        self.ptr = 0  # next write position
        self.size = 0
        self._storage = self._allocate(self.capacity)

    def _allocate(self, capacity: int) -> dict[str, torch.Tensor]:
        shapes = {
            "obs": (self.obs_dim,),
            "act": (self.act_dim,),
            "rew": (),
            "next_obs": (self.obs_dim,),
            "terminated": (),
        }
        return {k: torch.zeros((capacity, *s), dtype=torch.float32, device=self.device) for k, s in shapes.items()}

    def __len__(self) -> int:
        return self.size

    def add(self, obs, act, rew, next_obs, terminated) -> None:
        values = dict(zip(FIELDS, (obs, act, rew, next_obs, terminated), strict=True))
        values = {k: torch.as_tensor(v, dtype=torch.float32, device=self.device) for k, v in values.items()}
        n = values["rew"].reshape(-1).shape[0]
        if n == 0:
            return
        if n > self.capacity:  # only the newest `capacity` rows can survive
            values = {k: v.reshape(n, *self._storage[k].shape[1:])[-self.capacity :] for k, v in values.items()}
            n = self.capacity
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        for k, v in values.items():
            self._storage[k][idx] = v.reshape(n, *self._storage[k].shape[1:])
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def _ordered_indices(self) -> torch.Tensor:
        """Indices of the stored rows, oldest first."""
        start = (self.ptr - self.size) % self.capacity
        return (start + torch.arange(self.size, device=self.device)) % self.capacity

    def sample(self, n: int) -> Batch:
        """Uniform over stored rows. Indices are logical (0 = oldest), so a buffer saved and reloaded
        (oldest first, ring unrolled) draws the same transitions for the same RNG state."""
        idx = torch.randint(self.size, (n,), device=self.device)
        return self.gather((idx + (self.ptr - self.size)) % self.capacity)

    def gather(self, idx: torch.Tensor) -> Batch:
        return Batch(*(self._storage[k][idx] for k in FIELDS))

    def all(self) -> Batch:
        return self.gather(self._ordered_indices())

    def recent(self, n: int) -> Batch:
        idx = self._ordered_indices()[-n:]
        return self.gather(idx)

    def resize(self, capacity: int) -> None:
        """Reallocate to ``capacity`` keeping the newest rows, oldest first (as ``add`` of ``all()`` would).
        Rows move straight from the old storage in chunks: the peak is old + new storage, no third copy
        (humanoid's model pool reaches ~4.4 GB)."""
        capacity = int(capacity)
        if capacity == self.capacity:
            return
        keep = min(self.size, capacity)
        old, order = self._storage, self._ordered_indices()[self.size - keep :]
        self._storage = self._allocate(capacity)
        for start in range(0, keep, RESIZE_CHUNK):
            rows = order[start : start + RESIZE_CHUNK]
            for k in FIELDS:
                self._storage[k][start : start + rows.shape[0]] = old[k][rows]
        del old
        self.capacity, self.size, self.ptr = capacity, keep, keep % capacity

    # ------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict:
        """Only the filled part, oldest first: a checkpoint never stores empty capacity."""
        return {"capacity": self.capacity, **{k: v.cpu() for k, v in self.all()._asdict().items()}}

    def load_state_dict(self, state: dict) -> None:
        if "done" in state:  # checkpoints written before the field was named ``terminated``
            state = {("terminated" if k == "done" else k): v for k, v in state.items()}
        self.capacity, self.ptr, self.size = int(state["capacity"]), 0, 0
        self._storage = self._allocate(self.capacity)
        self.add(*(state[k] for k in FIELDS))
