"""Shared building blocks: ensemble model, SAC, buffers, model rollouts."""
