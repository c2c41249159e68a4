"""Named phases of training, marked where they happen: ``env`` (real env steps), ``model`` (fitting a model or a
model-side estimator), ``rollouts`` (model rollouts), ``policy`` (policy and value updates).

A profiler or the benchmark harness (``benchmarks/run.py``) attributes time to them without patching methods by
name: each marked call is a ``torch.profiler.record_function`` range named ``mbrlbench.<phase>`` (visible in a
torch profile) and is reported to the listener installed by ``listening``, if any. A call marked ``fit=True``
(a model fit) also tells the listener that a fit ended, once per outermost fit (a subclass's override that calls
``super()`` is one fit). Without a listener a marked call costs one record_function range.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import torch

PHASES = ("env", "model", "rollouts", "policy")
F = TypeVar("F", bound=Callable[..., Any])


class PhaseListener(Protocol):
    def enter(self, phase: str) -> None:
        """A marked call of ``phase`` starts."""

    def exit(self, phase: str) -> None:
        """The innermost open marked call, of ``phase``, ends (normally or by an exception)."""

    def fitted(self, owner: Any, result: Any) -> None:
        """An outermost model fit of ``owner`` (the algorithm) ended and returned ``result``."""


_listener: PhaseListener | None = None
_fit_depth = 0


@contextmanager
def listening(listener: PhaseListener) -> Iterator[None]:
    """Report every marked call to ``listener`` inside this block."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def phase(name: str, fit: bool = False) -> Callable[[F], F]:
    """Mark a function or method as (part of) phase ``name``; ``fit``: it is a model fit."""
    if name not in PHASES:
        raise ValueError(f"unknown phase {name!r}; allowed: {', '.join(PHASES)}")

    def mark(fn: F) -> F:
        label = f"mbrlbench.{name}"

        @functools.wraps(fn)
        def marked(*args: Any, **kwargs: Any) -> Any:
            global _fit_depth
            listener = _listener
            with torch.profiler.record_function(label):
                if listener is None:
                    return fn(*args, **kwargs)
                listener.enter(name)
                _fit_depth += fit
                try:
                    result = fn(*args, **kwargs)
                finally:
                    _fit_depth -= fit
                    listener.exit(name)
                if fit and _fit_depth == 0:
                    listener.fitted(args[0] if args else None, result)
                return result

        return marked  # type: ignore[return-value]

    return mark
