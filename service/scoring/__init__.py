"""The daily batch job (``functrail score``): ingest a day, detect over the lake, store, queue.

ingest.py fills the lake from sources; partitions.py splits the day's lake events into
bounded groups of accounts; detect.py runs rules and anomaly models on one group (the unit a
Dask worker runs); runner.py maps groups locally or on a cluster; job.py ties it together and
commits alerts, webhook deliveries and the job run in one transaction.
"""

DEFAULT_PART_EVENTS = 250_000
"""Events per partition: without ``raw`` an event costs ~1 KB through detection. Here, not in
partitions.py, so that ``functrail score --help`` shows it without importing pandas."""
