"""Imports each command module once so it registers on the app (add new modules here)."""

from __future__ import annotations

from service.cli import (  # noqa: F401  (imported for their registration on the app)
    alerts,
    baselines,
    coverage,
    demo,
    detect,
    events,
    ingest,
    keys,
    models,
    normalize,
    prune,
    rule_stats,
    rules,
    score,
    serve,
    simulate,
    suppressions,
    train,
    triage,
    watch,
    webhooks,
)
