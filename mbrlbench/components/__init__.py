"""Shared building blocks, no algorithm of their own: config field groups (``config``, ``dynamics``), ensembles
(``ensemble``, ``mse_ensemble``, ``mdn``), replay buffers and trajectories (``buffers``, ``trajectories``), model
rollouts (``rollouts``, ``trajectories``), SAC (``sac``, ``cuda_graphs``), on-policy maths (``policy_gradient``),
classifiers and occupancy weights (``classifier``, ``occupancy``), and small helpers (``mlp``, ``optim``)."""
