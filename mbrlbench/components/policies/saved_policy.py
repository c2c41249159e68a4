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

from mbrlbench.components.policies.policy_gradient import GaussianMLPPolicy
from mbrlbench.components.policies.sac import TanhGaussianActor
from mbrlbench.support.safe_torch import UnsafeFileError, load_data

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


class PolicyError(ValueError):
    """A policy file that cannot be evaluated; the message names the file and the reason."""


PLAIN = (int, float, str, bool, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, booleans, None, and lists/tuples/str-keyed mappings of them (bounded depth)."""
    if isinstance(value, PLAIN):
        return True
    if depth > 4:
        return False
    if isinstance(value, list | tuple):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _check_payload(path: Any, payload: Any) -> None:
    """What ``policy.pt`` must hold before anything is built from it (``PolicyError`` naming the file)."""
    if not isinstance(payload, dict):
        raise PolicyError(f"{path}: not an mbrlbench policy (not a mapping)")
    if payload.get("format") != FORMAT or payload.get("kind") not in KINDS:
        raise PolicyError(
            f"{path}: not an mbrlbench policy (format {payload.get('format')!r:.40}, kind "
            f"{payload.get('kind')!r:.40}; known kinds: {', '.join(KINDS)})"
        )
    if not isinstance(payload.get("kwargs"), dict) or not _plain(payload["kwargs"]):
        raise PolicyError(f"{path}: corrupt policy (kwargs must be a mapping of plain values)")
    state = payload.get("state")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PolicyError(f"{path}: corrupt policy (state must map names to tensors)")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise PolicyError(f"{path}: the policy's weights hold NaN or infinite values ({', '.join(bad[:3])})")
    clamp = payload.get("clamp")
    if clamp is not None and not (isinstance(clamp, list | tuple) and len(clamp) == 2 and _plain(clamp)):
        raise PolicyError(f"{path}: corrupt policy (clamp must be two numbers or None)")
    meta = payload.get("meta")
    if not isinstance(meta, dict) or not _plain(meta):
        raise PolicyError(f"{path}: corrupt policy (meta must be a mapping of plain values)")


def load_policy(path: Any, device: torch.device | str = "cpu") -> LoadedPolicy:
    """``policy.pt`` -> a policy, loaded as data only (``safe_torch.load_data``: no code in the file
    runs); raises ``PolicyError`` (with the file and the reason) when it is missing, unsafe or corrupt."""
    try:
        payload = load_data(path, "cpu")
    except FileNotFoundError:
        raise PolicyError(
            f"{path}: no policy.pt (a run writes one with each checkpoint and at its end; the shipped reference "
            "runs and runs of older versions have none)"
        ) from None
    except UnsafeFileError as err:
        raise PolicyError(str(err)) from None
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise PolicyError(f"{path}: unreadable policy ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    _check_payload(path, payload)
    try:
        return LoadedPolicy(payload, device)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise PolicyError(f"{path}: corrupt policy ({type(err).__name__}: {str(err).splitlines()[0]})") from None
