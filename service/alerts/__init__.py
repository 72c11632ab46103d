"""Alerts in the store: folding repeats, triage, queries and the /v1/alerts routes."""
