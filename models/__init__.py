"""Training, evaluation and the registry of versioned, safely serialized anomaly models."""
