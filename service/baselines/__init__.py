"""Baseline adjustments: what false-positive verdicts widened, listed and undone."""
