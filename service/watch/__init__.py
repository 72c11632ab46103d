"""``functrail watch``: near-real-time detection, the daily job's path run every few seconds.

``inputs`` turns source URIs into what is new since each source's checkpoint; ``batch`` runs
one micro-batch through the data folder's one writer (lake, detection, alerts and outbox,
then checkpoints); ``loop`` polls every interval until stopped. See docs/watch.md.
"""

DEFAULT_INTERVAL = 10.0
"""Seconds between micro-batches (DESIGN.md: ``functrail watch [--interval S]``, default 10);
here so that ``functrail watch --help`` shows it without importing the pipeline."""
