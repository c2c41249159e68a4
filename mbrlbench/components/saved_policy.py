"""The trained policy alone, apart from the training state: what ``policy.pt`` holds and how it acts again.

Every algorithm's acting policy is one of two networks: SAC's tanh-squashed Gaussian (sac, mbpo, mnm, tom)
or the rllab-style Gaussian MLP (trpo, ppo, mbmpo's pre-update policy, mg). A saved policy names its kind,
the constructor's arguments and the weights, so it rebuilds without the algorithm, its buffers or its model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mbrlbench.components.policy_gradient import GaussianMLPPolicy
from mbrlbench.components.sac import TanhGaussianActor

FORMAT = 1
KINDS: dict[str, type[nn.Module]] = {"tanh_gaussian": TanhGaussianActor, "gaussian_mlp": GaussianMLPPolicy}


@dataclass
class PolicySpec:
    """An algorithm's acting policy: ``kind`` (a key of KINDS), the arguments that build it, the module, and
    the box its env actions are clamped to (MG clamps; the others act inside the box by construction)."""

    kind: str
    kwargs: dict[str, Any]
    module: nn.Module
    clamp: tuple[float, float] | None = None

    def payload(self, meta: dict[str, Any]) -> dict[str, Any]:
        """What ``policy.pt`` holds: CPU weights and plain data (``meta``: task, algorithm, seed, env step)."""
        state = {k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
        return {
            "format": FORMAT,
            "kind": self.kind,
            "kwargs": dict(self.kwargs),
            "clamp": self.clamp,
            "state": state,
            "meta": meta,
        }


class LoadedPolicy:
    """A saved policy, acting on batches of numpy observations."""

    def __init__(self, payload: dict[str, Any], device: torch.device | str = "cpu") -> None:
        if payload.get("format") != FORMAT or payload.get("kind") not in KINDS:
            raise ValueError(f"not an mbrlbench policy (format {payload.get('format')}, kind {payload.get('kind')})")
        self.kind, self.meta, self.clamp = payload["kind"], payload.get("meta", {}), payload.get("clamp")
        self.device = torch.device(device)
        self.module = KINDS[self.kind](**payload["kwargs"]).to(self.device)
        self.module.load_state_dict(payload["state"])
        self.module.eval()

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        if self.kind == "tanh_gaussian":
            action = self.module(obs_t, deterministic)[0]
        else:
            action = self.module.act(obs_t, deterministic)  # type: ignore[operator]
        if self.clamp is not None:
            action = action.clamp(*self.clamp)
        return action.cpu().numpy()


def load_policy(path: Any, device: torch.device | str = "cpu") -> LoadedPolicy:
    """``policy.pt`` -> a policy; raises ValueError (with the reason) when the file is missing or corrupt."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise ValueError(
            f"{path}: no policy.pt (a run writes one with each checkpoint and at its end; the shipped reference "
            "runs and runs of older versions have none)"
        ) from None
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise ValueError(f"{path}: unreadable policy ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: not an mbrlbench policy")
    try:
        return LoadedPolicy(payload, device)
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{path}: corrupt policy ({type(err).__name__}: {str(err).splitlines()[0]})") from None
