"""Scores of a learned dynamics model and of a critic on the runner's evaluation episodes (issue 17 item 3).

The evaluation episodes are fresh and on-policy, and no algorithm trains on them. Everything here is
deterministic: no sampling, no RNG draw (a resumed run must log the same bits as an unbroken one).

``kstep_errors``: the open-loop k-step prediction error. From a start ``t`` of an episode of length ``T``
(every ``t`` with ``t + k <= T``), the episode's real actions ``a_t .. a_{t+k-1}`` go through the model from
the real ``s_t``, each predicted state fed back in; the predicted ``s_{t+k}`` is compared with the real one:

    error_k = sqrt( mean over starts and observation dims of ((pred_d - real_d) / std_d)^2 )

``std_d`` is the std of the real data the model was last fitted on (the observation part of the model's
input normalizer), not the evaluation episodes' own: it is the model's own scale, stable from one evaluation
to the next, while a deterministic policy's episodes can have a near-zero spread in some dimensions (a
balanced pendulum) that would blow the error up. A dimension whose std is below ``STD_FLOOR`` counts with
std 1 (constant dimensions, e.g. zero contact forces). All starts of all episodes advance together, one
batched model call per step (rows drop out once their episode has no step left); with more than
``MAX_STARTS`` starts an evenly strided, fixed subset of them is used (index ``floor(i n / MAX_STARTS)`` of
the ``n`` starts laid end to end, episode after episode; a rollout horizon beyond 10 uses proportionally
fewer, see ``model_errors``). A start whose prediction diverged (inf or NaN) counts
with the capped squared error ``ERROR_CAP``, so a diverging model logs a large finite error (``sqrt`` of the
cap at most) rather than failing the run.

Episodes shorter than ``k`` contribute no start to ``error_k``. When no evaluation episode has ``k`` steps
(a policy that falls within ``k`` steps), ``error_k`` is NaN: there is no k-step prediction to score (the
runner lets evaluation columns go NaN after being finite, since a policy can fall faster at one evaluation
than at the one before). ``fallback_longest=True`` logs the error at the longest horizon the episodes allow
instead. ``model/reward_error`` is the one-step RMSE of the predicted reward, in reward
units, over the same starts.

``critic_bias``: mean over episodes of ``Q(s_0, a_0)`` minus the discounted Monte-Carlo return of the episode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch

Predict = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``(obs [N, D], act [N, A]) -> (next_obs [N, D], reward [N])``: a model's deterministic mean step."""

FIXED_HORIZONS = (1, 5, 10)
MODEL_KEYS = (
    "model/kstep_error_1",
    "model/kstep_error_5",
    "model/kstep_error_10",
    "model/kstep_error_rollout",
    "model/reward_error",
)
MAX_STARTS = 500  # starts per evaluation (10 x 1000-step episodes hold 10,000); see docs/performance.md
STD_FLOOR = 1e-6
ERROR_CAP = 1e12  # per start, squared and normalized: an RMSE of at most 1e6 std


class EpisodeLike(Protocol):
    """What is read of an evaluation episode (``mbrlbench.algorithms.base.Episode``)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray


def obs_scale(std: torch.Tensor) -> torch.Tensor:
    """Per-dimension scale of the error: the model's training-data std, 1 where below ``STD_FLOOR``."""
    s = std.detach().to(torch.float64)
    return torch.where(s < STD_FLOOR, torch.ones_like(s), s)


def nan_model_errors() -> dict[str, float]:
    """The model columns while there is no fitted model yet."""
    return {k: float("nan") for k in MODEL_KEYS}


@torch.no_grad()
def model_errors(
    predict: Predict,
    episodes: Sequence[EpisodeLike],
    rollout_horizon: int,
    obs_std: torch.Tensor,
    max_starts: int = MAX_STARTS,
) -> dict[str, float]:
    """``MODEL_KEYS``: k-step errors for k = 1, 5, 10 and ``rollout_horizon``, and the reward error. A rollout
    horizon beyond 10 gets its own pass on ``max_starts * 10 // rollout_horizon`` starts (MB-MPO's 200 would
    otherwise cost 20x the rest)."""
    k_roll = int(rollout_horizon)
    longest = max(FIXED_HORIZONS)
    horizons = sorted({*FIXED_HORIZONS, *([k_roll] if k_roll <= longest else [])})
    errors, reward_error = kstep_errors(predict, episodes, horizons, obs_std, max_starts)
    if k_roll > longest:
        long_starts = max(1, max_starts * longest // k_roll)
        errors |= kstep_errors(predict, episodes, [k_roll], obs_std, long_starts)[0]
    out = {f"model/kstep_error_{k}": errors[k] for k in FIXED_HORIZONS}
    out["model/kstep_error_rollout"] = errors[k_roll]
    out["model/reward_error"] = reward_error
    return out


@torch.no_grad()
def kstep_errors(
    predict: Predict,
    episodes: Sequence[EpisodeLike],
    horizons: Sequence[int],
    obs_std: torch.Tensor,
    max_starts: int | None = MAX_STARTS,
    fallback_longest: bool = False,
) -> tuple[dict[int, float], float]:
    """Normalized open-loop k-step RMSE for each k in ``horizons``, and the one-step reward RMSE. ``obs_std
    [D]`` scales each observation dimension; its device is the model's. A k longer than every episode (no
    start) gets the error at the longest horizon the starts allow (``fallback_longest``) or NaN."""
    device = obs_std.device
    cat = [np.concatenate([getattr(e, f) for e in episodes]) for f in ("obs", "actions", "rewards", "next_obs")]
    obs, act, rew, next_obs = (torch.as_tensor(x, device=device) for x in cat)
    act = act.to(torch.float32)
    # left[i]: real steps from row i to its episode's end (rows laid end to end, episode after episode)
    left = torch.cat([torch.arange(len(e.rewards), 0, -1) for e in episodes]).to(device)
    n = left.shape[0]
    rows = torch.arange(n, device=device)
    if max_starts is not None and n > max_starts:
        rows = torch.div(torch.arange(max_starts, device=device) * n, max_starts, rounding_mode="floor")
    std = obs_std.to(device=device, dtype=torch.float64)
    state = obs[rows].to(torch.float32)
    deepest = min(max(horizons), int(left[rows].max()))  # the longest open-loop prediction these starts allow
    errors: dict[int, float] = {}
    reward_error = float("nan")
    for j in range(1, deepest + 1):
        keep = left[rows] >= j  # rows whose episode has a j-th step from their start
        rows, state = rows[keep], state[keep]
        state, reward = predict(state, act[rows + j - 1])
        if j == 1:
            reward_error = math.sqrt(_capped_mean((reward.to(torch.float64) - rew[rows]) ** 2))
        if j in horizons or j == deepest:
            sq = (((state.to(torch.float64) - next_obs[rows + j - 1]) / std) ** 2).mean(dim=1)
            errors[j] = math.sqrt(_capped_mean(sq))
    short = errors[deepest] if fallback_longest else float("nan")
    return {k: errors.get(k, short) for k in horizons}, reward_error


def _capped_mean(sq: torch.Tensor) -> float:
    """Mean of squared errors, each non-finite or huge one counted as ``ERROR_CAP``."""
    return float(torch.nan_to_num(sq, nan=ERROR_CAP, posinf=ERROR_CAP).clamp(max=ERROR_CAP).mean())


def discounted_returns(rewards: Sequence[np.ndarray], gamma: float) -> np.ndarray:
    """``sum_t gamma^t r_t`` of each episode, in float64."""
    return np.array([float(np.dot(gamma ** np.arange(len(r), dtype=np.float64), r)) for r in rewards])


def critic_bias(q0: torch.Tensor, rewards: Sequence[np.ndarray], gamma: float) -> float:
    """Mean over episodes of ``q0[e]`` (the critic at the episode's first state and action) minus the episode's
    discounted Monte-Carlo return: > 0 the critic over-estimates."""
    returns = discounted_returns(rewards, gamma)
    return float(np.mean(q0.detach().to(torch.float64).cpu().numpy() - returns))
