"""Shared building blocks, no algorithm of their own, grouped by what they are: ``models/`` (dynamics models and
their one trainer), ``policies/`` (SAC, the Gaussian MLP with TRPO and PPO, the saved policy), ``data/``
(buffers, trajectories, rollouts), ``estimators/`` (MnM's classifier, TOM's occupancy weights); at this level
the small helpers every group uses: ``config`` (config field groups), ``mlp``, ``optim``, ``cuda_graphs``."""
