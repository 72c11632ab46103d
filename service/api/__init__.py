"""The HTTP service: app factory, auth, limits, errors, health and metrics."""
