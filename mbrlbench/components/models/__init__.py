"""Dynamics models and how they are trained: MBPO's probabilistic ensemble (``ensemble``), TOM's mixture density
network (``mdn``), MB-MPO's deterministic ensemble (``mse_ensemble``), the one trainer (``model_training``), the
shared config fields and data splits (``dynamics``) and model diagnostics (``model_diagnostics``)."""
