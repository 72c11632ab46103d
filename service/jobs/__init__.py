"""Job runs: what each batch job did, for operators and ``GET /v1/jobs``."""
