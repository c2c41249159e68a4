"""One way to train a dynamics model (mbrl-lib's split of model and trainer): a model supplies its loss on a
batch, its holdout score and the parameters a stop rule snapshots; ``train_model`` runs the epochs; a stop rule
decides when to stop and what to keep; every model reports its validation error in one unit.

The pieces each model's ``fit`` composes, so its official recipe reads in one place:
- a split: ``shared_holdout`` (one holdout for all members: MBPO's ensemble, TOM's MDN) or ``member_holdout``
  (each member its own: MB-MPO's ensemble);
- a batch plan: ``MemberEpochs`` (each member a pass over its own rows per epoch: bootstrap draws or its
  split), ``WeightedDraws`` (a fixed number of minibatches drawn by weight: TOM's MDN) or ``FixedSteps``
  (MG's gradient-matching steps);
- a stop rule: ``KeepBestMembers`` (MBPO: per-member snapshots of the best holdout score, stop when none
  improves), ``RelativeImprovement`` (TOM's MDN: stop when the holdout NLL stalls, keep the last weights),
  ``RollingFreeze`` (MB-MPO: freeze each member when its rolling validation loss rises), ``NoStop`` (MG).

``model/val_loss`` is :func:`standardized_mse` for every model (``VAL_LOSS_UNITS``): the holdout error of the
model's point prediction per output ``[r, s' - s]``, in units of that output's variance in the fit's data, so
1.0 is as good as predicting the mean and the number compares across models and tasks. The rules that pick
elites or stop a fit keep their own official criteria (raw MSE, NLL, standardized MSE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

VAL_LOSS_UNITS = "standardized holdout MSE (1.0 = predicting the mean of each output)"


@dataclass
class FitResult:
    """Summary of one fit, reduced to floats once (no per-step host syncs)."""

    train_loss: float  # mean over the last epoch's steps of the model's own training loss, per member
    val_loss: float  # standardized holdout MSE of the point prediction (VAL_LOSS_UNITS)
    epochs: int


def standardized_mse(prediction: torch.Tensor, target: torch.Tensor, target_std: torch.Tensor) -> torch.Tensor:
    """Mean over rows and outputs of ``((prediction - target) / target_std)^2`` (over the last two dims, so a
    leading member dim gives one value per member)."""
    return (((prediction - target) / target_std) ** 2).mean(dim=(-2, -1))


def target_std(targets: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Per-output std of all the targets a fit was given (a constant output counts as std 1, as the
    normalizers do): the unit of ``standardized_mse``."""
    std = targets.std(dim=0, unbiased=False)
    return torch.where(std < eps, torch.ones_like(std), std)


# ------------------------------------------------------------------------------------------------ splits
@dataclass
class Holdout:
    """Row indices of one fit: ``[n]`` shared by every member, or ``[members, n]`` one split per member."""

    train: torch.Tensor
    hold: torch.Tensor

    @property
    def empty(self) -> bool:
        return self.hold.shape[-1] == 0


def shared_holdout(n: int, ratio: float, max_rows: int, device: torch.device) -> Holdout:
    """One random holdout of ``min(int(n * ratio), max_rows)`` rows (MBPO ``bnn.train``, TOM ``MDN.train``)."""
    perm = torch.randperm(n, device=device)
    n_hold = min(int(n * ratio), max_rows)
    return Holdout(train=perm[n_hold:], hold=perm[:n_hold])


def member_holdout(n: int, members: int, ratio: float, device: torch.device) -> Holdout:
    """Each member its own random split with ``max(int(n * ratio), 1)`` validation rows (MB-MPO)."""
    perms = torch.argsort(torch.rand(members, n, device=device), dim=1)
    n_valid = max(int(n * ratio), 1)
    return Holdout(train=perms[:, n_valid:], hold=perms[:, :n_valid])


# ------------------------------------------------------------------------------------------ batch plans
class BatchPlan(Protocol):
    def epoch(self) -> Iterable[torch.Tensor | int]:
        """The batches of one epoch (index tensors, or step numbers for ``FixedSteps``)."""
        ...


def bootstrap_rows(n: int, members: int, device: torch.device, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Each member's bootstrap sample of ``n`` row indices ``[members, n]``, drawn once per fit (official):
    uniform, or with probability proportional to ``weights`` (TOM's weighted sampling)."""
    if weights is not None:
        return torch.multinomial(weights, members * n, replacement=True).view(members, n)
    return torch.randint(n, (members, n), device=device)


@dataclass
class MemberEpochs:
    """Each epoch, every member passes once over its own rows ``[members, n]`` in a fresh random order,
    in minibatches of ``batch_size`` per member (``[members, B]`` index tensors)."""

    rows: torch.Tensor
    batch_size: int

    def epoch(self) -> Iterator[torch.Tensor]:
        members, n = self.rows.shape
        order = torch.argsort(torch.rand(members, n, device=self.rows.device), 1)
        shuffled = torch.gather(self.rows, 1, order)
        for start in range(0, n, self.batch_size):
            yield shuffled[:, start : start + self.batch_size]


@dataclass
class WeightedDraws:
    """Each epoch, ``batches`` minibatches of ``batch_size`` rows drawn with replacement, by ``weights`` when
    given (TOM's ``sample`` mode) else uniformly."""

    n: int
    batches: int
    batch_size: int
    weights: torch.Tensor | None
    device: torch.device

    def epoch(self) -> torch.Tensor:
        draws = self.batches * self.batch_size
        if self.weights is not None:
            idx = torch.multinomial(self.weights, draws, replacement=True)
        else:
            idx = torch.randint(self.n, (draws,), device=self.device)
        return idx.view(self.batches, self.batch_size)


@dataclass
class FixedSteps:
    """One "epoch" of ``steps`` numbered steps: the objective draws its own data (MG)."""

    steps: int

    def epoch(self) -> range:
        return range(self.steps)


# ------------------------------------------------------------------------------------------- stop rules
class StopRule(Protocol):
    @property
    def active(self) -> torch.Tensor | None:
        """``[members]`` 1.0 for the members still training (the objective masks the rest), or None: all."""
        ...

    def update(self, epoch: int) -> bool:
        """After each epoch: score the holdout, keep what the rule keeps; True to stop."""
        ...

    def finish(self) -> None:
        """After the last epoch: restore what the rule kept."""
        ...


class NoStop:
    """Train for exactly ``max_epochs``."""

    active = None

    def update(self, epoch: int) -> bool:
        return False

    def finish(self) -> None:
        pass


def _copy_members(dst: Sequence[torch.Tensor], src: Sequence[torch.Tensor], members: torch.Tensor | list[int]) -> None:
    with torch.no_grad():
        for d, s in zip(dst, src, strict=True):
            d[members] = s[members]


@dataclass
class KeepBestMembers:
    """MBPO's rule (official ``bnn.train``): after each epoch, a member whose holdout score improved by more
    than ``improvement`` (relative) saves a snapshot; stop when no member improved for more than
    ``patience`` epochs; restore every member's snapshot at the end. The best score starts at 1e10, so every
    member saves after its first epoch."""

    score: Callable[[], torch.Tensor]  # [members] holdout score, lower is better
    params: Sequence[torch.Tensor]  # member-first parameters to snapshot
    patience: int
    improvement: float
    active: None = None
    best: torch.Tensor = field(init=False)
    saved: list[torch.Tensor] = field(init=False)
    since_update: int = 0

    def __post_init__(self) -> None:
        self.saved = [p.detach().clone() for p in self.params]
        self.best = torch.full((self.params[0].shape[0],), 1e10)

    def update(self, epoch: int) -> bool:
        current = self.score().cpu()
        improved = (self.best - current) / self.best > self.improvement
        if improved.any():
            self.best = torch.where(improved, current, self.best)
            _copy_members(self.saved, self.params, improved.nonzero().flatten().tolist())
            self.since_update = 0
        else:
            self.since_update += 1
        return self.since_update > self.patience

    def finish(self) -> None:
        with torch.no_grad():
            for saved, p in zip(self.saved, self.params, strict=True):
                p.copy_(saved)


@dataclass
class RelativeImprovement:
    """TOM's MDN rule (official ``MDN.train``): stop when the holdout score has not improved by more than
    ``improvement`` (relative) for more than ``patience`` epochs; the model keeps its last weights. Without a
    holdout (``score`` None) it never stops early."""

    score: Callable[[], float] | None
    patience: int
    improvement: float
    active: None = None
    best: float = float("inf")
    since_best: int = 0

    def update(self, epoch: int) -> bool:
        if self.score is None:
            return False
        current = self.score()
        if self.best == float("inf") or (self.best - current) / abs(self.best) > self.improvement:
            self.best, self.since_best = current, 0
        else:
            self.since_best += 1
        return self.since_best > self.patience

    def finish(self) -> None:
        pass


class RollingFreeze:
    """MB-MPO's rule (``dynamics_ensemble.py:234-243, 254-258``): a rolling average ``r <- p r + (1 - p) v`` of
    each member's validation loss ``v``, started at ``1.5 v_1`` with its previous value at ``2.0 v_1`` "to avoid
    too early stopping"; a member stops at the first epoch where ``r`` rises, and is frozen: its loss is masked
    out and its weights as they were then are restored at the end (Adam's momentum would move them). Stop
    when every member has stopped. (The official branch for negative losses cannot occur with an MSE.)"""

    def __init__(
        self, score: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], persistence: float, max_epochs: int
    ) -> None:
        self.score, self.params, self.persistence = score, params, persistence
        members = params[0].shape[0]
        self.active = torch.ones(members, device=params[0].device)
        self.frozen = [p.detach().clone() for p in params]
        self.rolling: torch.Tensor | None = None
        self.prev: torch.Tensor | None = None
        self.stop_epochs = torch.full((members,), max_epochs, dtype=torch.long)
        self.history: list[torch.Tensor] = []

    def stops(self, valid: torch.Tensor) -> torch.Tensor:
        """This epoch's validation losses ``[members]`` -> which members' rolling average rose."""
        if self.rolling is None or self.prev is None:
            self.rolling, self.prev = 1.5 * valid, 2.0 * valid
        self.rolling = self.persistence * self.rolling + (1 - self.persistence) * valid
        stop = self.prev < self.rolling
        self.prev = self.rolling
        return stop

    def update(self, epoch: int) -> bool:
        valid = self.score()
        self.history.append(valid)
        active = self.active > 0
        stopping = active & self.stops(valid)
        if bool(stopping.any()):
            _copy_members(self.frozen, self.params, stopping)
            self.stop_epochs[stopping.cpu()] = epoch
            self.active = (active & ~stopping).float()
        return not bool((self.active > 0).any())

    def finish(self) -> None:
        stopped = self.active == 0
        with torch.no_grad():
            for saved, p in zip(self.frozen, self.params, strict=True):
                p[stopped] = saved[stopped]


# ------------------------------------------------------------------------------------------ the trainer
Objective = Callable[[torch.Tensor | int, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Trained:
    """What ``train_model`` did: the logged losses of the last epoch, summed, its steps, the epochs run."""

    logged_sum: torch.Tensor
    steps: int
    epochs: int

    def mean(self) -> float:
        """The last epoch's mean logged loss (one host sync)."""
        return float(self.logged_sum / max(self.steps, 1))


def train_model(
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    plan: BatchPlan,
    stop: StopRule,
    max_epochs: int | None,
    max_grad_norm: float | None = None,
) -> Trained:
    """Epochs of ``plan``'s batches, one optimizer step each on ``objective(batch, stop.active) -> (loss to
    minimize, loss to log)``, gradients only to the optimizer's parameters (so an objective may depend on
    other modules, as MG's does on the policy), clipped to ``max_grad_norm`` where given, until ``stop``
    says so or ``max_epochs``; then ``stop.finish()``. No host sync per step."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    epoch, steps, logged_sum = 0, 0, torch.zeros((), device=params[0].device)
    while max_epochs is None or epoch < max_epochs:
        epoch += 1
        steps, logged_sum = 0, torch.zeros((), device=params[0].device)
        for batch in plan.epoch():
            loss, logged = objective(batch, stop.active)
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for p, g in zip(params, grads, strict=True):
                p.grad = None if g is None else g.detach()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            logged_sum = logged_sum + logged.detach()
            steps += 1
        if stop.update(epoch):
            break
    stop.finish()
    return Trained(logged_sum, steps, epoch)
