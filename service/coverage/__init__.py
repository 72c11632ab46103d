"""``GET /v1/coverage`` and the coverage alerts of the score job (``detectors.coverage``)."""
