"""The audit log: one row per API call (who, what, answer, when, from where)."""
