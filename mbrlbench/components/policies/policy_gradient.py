"""On-policy policy-gradient parts shared by MB-MPO, its TRPO/PPO/ME-TRPO baselines and MG.

Everything works on batches of fixed-length trajectories stored as ``[B, T, ...]`` tensors with a ``valid``
mask ``[B, T]`` (1 until the step that terminated, inclusive), so a batch of imagined or real trajectories
is processed in one call, never a Python loop over trajectories.

- ``GaussianMLPPolicy``: rllab's Gaussian MLP policy (tanh hidden layers, state-independent log-std),
  callable with substituted parameters (``torch.func.functional_call``) for MAML's adapted policies.
- ``LinearFeatureBaseline``: rllab's time-and-state features fitted by ridge regression, batched over tasks.
- ``discounted_cumsum`` / ``gae`` / ``gae_bootstrapped``: returns and generalized advantage estimates;
  ``center_advantages``: advantage normalization.
- ``vpg_loss``: the likelihood-ratio surrogate of MAML's inner step.
- ``conjugate_gradient`` / ``trpo_step``: natural-gradient step with a KL line search (rllab's
  ``ConjugateGradientOptimizer``: 10 CG iterations, damping 1e-5, backtracking 0.8 x 15).
- ``ppo_loss``: the clipped surrogate; ``flat_grad``/``cosine``: flat gradients and their similarity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from mbrlbench.components.mlp import mlp

Params = dict[str, torch.Tensor]


class GaussianMLPPolicy(nn.Module):
    """``a ~ N(mu(s), diag(exp(log_std)^2))``; mu an MLP with tanh hidden layers (rllab defaults)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 32, layers: int = 2, init_std: float = 1.0) -> None:
        super().__init__()
        # what rebuilds it without its algorithm (policy.pt)
        self.init_kwargs: dict[str, Any] = {"obs_dim": obs_dim, "act_dim": act_dim, "hidden": hidden, "layers": layers}
        self.init_kwargs["init_std"] = init_std
        self.mean_net = mlp(obs_dim, hidden, layers, act_dim, nn.Tanh)
        self.log_std = nn.Parameter(torch.full((act_dim,), math.log(init_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean_net(obs)
        return mean, self.log_std + torch.zeros_like(mean)  # a new tensor, not a view of the parameter

    def params(self) -> Params:
        return dict(self.named_parameters())

    def dist(self, obs: torch.Tensor, params: Params | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) under ``params`` (default: the module's own)."""
        if params is None:
            return self(obs)
        return functional_call(self, params, (obs,))

    def log_prob(self, obs: torch.Tensor, act: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        mean, log_std = self.dist(obs, params)
        return gaussian_log_prob(mean, log_std, act)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False, params: Params | None = None) -> torch.Tensor:
        mean, log_std = self.dist(obs, params)
        return mean if deterministic else mean + torch.randn_like(mean) * log_std.exp()


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    z = (act - mean) * torch.exp(-log_std)
    return (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


def gaussian_kl(
    mean0: torch.Tensor, log_std0: torch.Tensor, mean1: torch.Tensor, log_std1: torch.Tensor
) -> torch.Tensor:
    """KL(N0 || N1) of diagonal Gaussians, summed over action dims."""
    var0, var1 = torch.exp(2 * log_std0), torch.exp(2 * log_std1)
    return (log_std1 - log_std0 + (var0 + (mean0 - mean1) ** 2) / (2 * var1) - 0.5).sum(dim=-1)


# ------------------------------------------------------------------------------- returns and advantages
def discounted_cumsum(x: torch.Tensor, discount: float, cont: torch.Tensor | None = None) -> torch.Tensor:
    """``y_t = x_t + discount * cont_t * y_{t+1}`` along the last axis: the discounted sum up to the end of
    the path. ``cont_t`` is 1 where step t+1 continues step t's path (default: everywhere), so a row may
    hold several paths one after another (the lockstep layout of restarted model rollouts)."""
    out = torch.empty_like(x)
    running = torch.zeros_like(x[..., 0])
    for t in range(x.shape[-1] - 1, -1, -1):
        running = x[..., t] + discount * (running if cont is None else running * cont[..., t])
        out[..., t] = running
    return out


def next_step_continues(valid: torch.Tensor) -> torch.Tensor:
    """``cont`` of a padded batch (one path per row): step t+1 continues the path iff it is valid."""
    return torch.cat([valid[..., 1:], torch.zeros_like(valid[..., :1])], dim=-1)


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    valid: torch.Tensor,
    gamma: float,
    lam: float,
    cont: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generalized advantage estimates ``[B, T]``; the value after a path's last step is 0 (rllab appends 0
    to every path's baselines), and invalid steps get 0. ``cont`` as in ``discounted_cumsum`` (default: one
    path per row, ``next_step_continues(valid)``)."""
    cont = next_step_continues(valid) if cont is None else cont
    next_values = torch.cat([values[..., 1:], torch.zeros_like(values[..., :1])], dim=-1) * cont
    deltas = (rewards + gamma * next_values - values) * valid
    return discounted_cumsum(deltas, gamma * lam, cont) * valid


def gae_bootstrapped(
    rew: torch.Tensor,
    value: torch.Tensor,
    next_value: torch.Tensor,
    terminal: torch.Tensor,
    cont: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """GAE along the last axis with explicit bootstraps (MG): ``delta_t = r_t + gamma (1 - terminal_t) V(s'_t) -
    V(s_t)``, ``A_t = delta_t + gamma lam cont_t A_{t+1}`` (``cont_t`` = 1 while step t+1 continues the same
    trajectory). Truncations (time limit, batch end, model horizon) bootstrap with ``V(s'_t)``; differentiable.
    ``gae`` is the case of padded paths: no terminal bootstrap, the value after a path's last step 0."""
    delta = rew + gamma * (1.0 - terminal) * next_value - value
    out, running = [], torch.zeros_like(delta[..., 0])
    for t in range(delta.shape[-1] - 1, -1, -1):
        running = delta[..., t] + gamma * lam * cont[..., t] * running
        out.append(running)
    return torch.stack(out[::-1], dim=-1)


def masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return (x * valid).sum() / valid.sum().clamp_min(1)


def center_advantages(adv: torch.Tensor, valid: torch.Tensor, scale: bool = False) -> torch.Tensor:
    """Zero mean over the valid steps, and with ``scale`` unit (population) std: rllab's ``center_adv`` is
    ``(A - mean) / (std + 1e-8)`` (``rllab/algos/util.py:7-8``), i.e. ``scale=True``, as PPO's advantage
    normalization (MG). Differentiable: MG's model gradient keeps its dependence."""
    mean = masked_mean(adv, valid)
    adv = adv - mean
    if scale:
        adv = adv / (masked_mean(adv**2, valid).sqrt() + 1e-8)
    return adv * valid


class LinearFeatureBaseline:
    """rllab ``LinearFeatureBaseline``: ``V(s_t) = w . [s, s^2, t/100, (t/100)^2, (t/100)^3, 1]`` fitted to
    the empirical returns by ridge regression, one ``w`` per leading batch index (one per task)."""

    def __init__(self, reg: float = 1e-5) -> None:
        self.reg = reg
        self.coef: torch.Tensor | None = None

    @staticmethod
    def features(obs: torch.Tensor, time: torch.Tensor | None = None) -> torch.Tensor:
        """``obs [..., T, D]`` -> features ``[..., T, 2D + 4]`` (observations clipped to +-10, as rllab).
        The time feature is the step within the path: ``time [..., T]`` where a row holds several paths,
        else the position along T."""
        o = obs.clamp(-10, 10)
        if time is None:
            t = torch.arange(obs.shape[-2], device=obs.device, dtype=obs.dtype) / 100.0
            t = t.view(*([1] * (obs.dim() - 2)), -1, 1).expand(*obs.shape[:-1], 1)
        else:
            t = time.to(obs.dtype).unsqueeze(-1) / 100.0
        return torch.cat([o, o**2, t, t**2, t**3, torch.ones_like(t)], dim=-1)

    def fit(
        self, obs: torch.Tensor, returns: torch.Tensor, valid: torch.Tensor, time: torch.Tensor | None = None
    ) -> None:
        """``obs [G, N, T, D]``, ``returns``/``valid``/``time [G, N, T]``: G independent fits (G tasks)."""
        x = self.features(obs, time) * valid.unsqueeze(-1)
        x = x.flatten(1, 2)  # [G, N*T, F]
        y = (returns * valid).flatten(1, 2).unsqueeze(-1)
        x, y = x.double(), y.double()  # float32 normal equations are singular at these sizes
        xtx, xty = x.transpose(1, 2) @ x, x.transpose(1, 2) @ y
        eye = torch.eye(x.shape[-1], device=x.device, dtype=x.dtype)
        reg = self.reg
        for _ in range(5):  # rllab raises the regularizer 10x until the solve succeeds
            coef, info = torch.linalg.solve_ex(xtx + reg * eye, xty)
            if bool((info == 0).all()) and bool(torch.isfinite(coef).all()):
                break
            reg *= 10
        self.coef = torch.nan_to_num(coef, nan=0.0, posinf=0.0, neginf=0.0).to(obs.dtype)

    def predict(self, obs: torch.Tensor, time: torch.Tensor | None = None) -> torch.Tensor:
        """``obs [G, N, T, D]`` -> values ``[G, N, T]`` (zeros before the first fit)."""
        if self.coef is None:
            return torch.zeros(obs.shape[:-1], device=obs.device, dtype=obs.dtype)
        return (self.features(obs, time) @ self.coef.unsqueeze(1)).squeeze(-1)


# ------------------------------------------------------------------------------------------- losses
def vpg_loss(log_prob: torch.Tensor, adv: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Vanilla policy-gradient surrogate ``-E[log pi(a|s) A]`` over the valid steps."""
    return -masked_mean(log_prob * adv, valid)


def ppo_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, adv: torch.Tensor, clip: float, valid: torch.Tensor
) -> torch.Tensor:
    """PPO's clipped surrogate (to minimize)."""
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    return -masked_mean(surrogate, valid)


def adapt(params: Params, inner_loss: Callable[[Params], torch.Tensor], lr: float, create_graph: bool = True) -> Params:
    """MAML's inner step ``theta' = theta - lr grad L(theta)``; with ``create_graph`` the adapted parameters
    stay differentiable in ``theta`` (second-order MAML)."""
    grads = torch.autograd.grad(inner_loss(params), list(params.values()), create_graph=create_graph)
    return {name: p - lr * g for (name, p), g in zip(params.items(), grads, strict=True)}


# --------------------------------------------------------------------------------------------- TRPO
def flat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def flat_grad(loss: torch.Tensor, params: list[torch.Tensor], create_graph: bool = False) -> torch.Tensor:
    """``d loss / d params`` as one flat vector; with ``create_graph`` it stays differentiable (MG's model)."""
    return flat(torch.autograd.grad(loss, params, create_graph=create_graph, retain_graph=create_graph))


def cosine(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return (a @ b) / (a.norm() * b.norm()).clamp_min(eps)


def gradient_distance(g_model: torch.Tensor, g_real: torch.Tensor, kind: str) -> torch.Tensor:
    """How far a model's policy gradient is from the real one (MG's model loss): 1 - cos(g_model, g_real), or
    PAML's ||g_model - g_real||^2 (Abachi et al. 2020); ``g_real`` is a constant target."""
    g_real = g_real.detach()
    if kind == "cosine":
        return 1.0 - cosine(g_model, g_real)
    return ((g_model - g_real) ** 2).sum()


def detached(params: Params) -> Params:
    return {k: v.detach() for k, v in params.items()}


def conjugate_gradient(fvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Solve ``F x = b`` for a symmetric positive-definite ``F`` given only products ``F v``."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        fp = fvp(p)
        alpha = rr / (p @ fp).clamp_min(1e-12)
        x = x + alpha * p
        r = r - alpha * fp
        rr_new = r @ r
        if rr_new < 1e-10:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


@dataclass
class TRPOResult:
    loss_before: float
    loss_after: float
    kl: float
    accepted: bool
    backtracks: int


def trpo_step(
    params: Sequence[torch.Tensor],
    loss_fn: Callable[[], torch.Tensor],
    kl_fn: Callable[[], torch.Tensor],
    max_kl: float,
    cg_iters: int = 10,
    damping: float = 1e-5,
    backtrack_ratio: float = 0.8,
    max_backtracks: int = 15,
) -> TRPOResult:
    """One TRPO update of ``params`` in place: natural gradient by CG on the Fisher (Hessian of
    ``kl_fn`` at the current parameters), scaled to the trust region ``max_kl``, then a backtracking line
    search that accepts the first step improving ``loss_fn`` with ``kl_fn() <= max_kl`` (rllab
    ``ConjugateGradientOptimizer``); if none does, the parameters are restored.

    ``loss_fn``/``kl_fn`` recompute from the current parameters (through anything, e.g. a MAML step).
    """
    params = list(params)
    loss = loss_fn()
    grads = flat(torch.autograd.grad(loss, params, allow_unused=False))
    kl_grad = flat(torch.autograd.grad(kl_fn(), params, create_graph=True))

    def fvp(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(kl_grad @ v, params, retain_graph=True)
        return flat(hv) + damping * v

    direction = conjugate_gradient(fvp, -grads, cg_iters)
    shs = (direction @ fvp(direction)).clamp_min(1e-12)
    full_step = torch.sqrt(2 * max_kl / shs) * direction
    before = [p.detach().clone() for p in params]
    loss_before = float(loss.detach())
    for k in range(max_backtracks):
        step = full_step * backtrack_ratio**k
        _assign(params, before, step)
        new_loss, kl = float(loss_fn().detach()), float(kl_fn().detach())  # grad on: MAML losses need it
        if new_loss < loss_before and kl <= max_kl:
            return TRPOResult(loss_before, new_loss, kl, True, k)
    _assign(params, before, torch.zeros_like(full_step))
    return TRPOResult(loss_before, loss_before, 0.0, False, max_backtracks)


def _assign(params: list[torch.Tensor], base: list[torch.Tensor], step: torch.Tensor) -> None:
    offset = 0
    with torch.no_grad():
        for p, b in zip(params, base, strict=True):
            n = p.numel()
            p.copy_(b + step[offset : offset + n].view_as(p))
            offset += n


def weighted_trpo_step(
    policy: GaussianMLPPolicy,
    sources: Sequence[tuple[float, dict[str, torch.Tensor]]],
    max_kl: float,
    cg_iters: int,
    damping: float,
) -> TRPOResult:
    """``trpo_step`` on a weighted sum of data sources (MG: real and model data), each a dict with ``obs``,
    ``act``, ``adv`` and the old policy's ``logp``, ``mean``, ``log_std``: the surrogate and the KL are the
    weighted sums of each source's mean."""
    device = policy.log_std.device

    def loss_fn() -> torch.Tensor:
        total = torch.zeros((), device=device)
        for weight, s in sources:
            ratio = (policy.log_prob(s["obs"], s["act"]) - s["logp"]).exp()
            total = total - weight * (ratio * s["adv"]).mean()
        return total

    def kl_fn() -> torch.Tensor:
        total = torch.zeros((), device=device)
        for weight, s in sources:
            mean, log_std = policy(s["obs"])
            total = total + weight * gaussian_kl(s["mean"], s["log_std"], mean, log_std).mean()
        return total

    return trpo_step(list(policy.parameters()), loss_fn, kl_fn, max_kl, cg_iters, damping)
