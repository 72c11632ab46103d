"""Retention: what ``functrail prune`` (and ``functrail serve`` once a day) deletes."""
