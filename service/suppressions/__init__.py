"""Suppressions: matching alerts are kept with status ``suppressed``, never dropped."""
