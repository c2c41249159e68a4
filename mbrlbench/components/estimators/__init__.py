"""Learned estimators beside the model: MnM's transition classifier (``classifier``) and TOM's occupancy
weights (``occupancy``)."""
