"""Events per (account, log type, hour) of each lake partition, kept by the lake's writers.

Coverage (is an account still sending? did its Lambda data events or Data Access logs stop?)
needs event counts over two weeks. Scanning the lake for them per request would read every
partition; instead ``EventLake.store`` adds the rows it writes to a small counts file per
partition under the same writer lock, so ``GET /v1/coverage`` and the score job read ~15 small
files. Layout: ``<root>/_counts/provider=aws/date=2026-03-02.arrow`` (Arrow IPC; readers of
events skip ``_`` names).

The log type of a row comes from its columns where they say it (CloudTrail's Lambda ``Invoke*``
and S3 object calls are data events, everything else a management event) and, for Google
Cloud, from the ``logName`` in its raw record (one regular expression over the record text;
~0.7 s per million 1.5 KB entries on this machine). CloudTrail data events of other services
are counted as ``management``: telling them apart needs the raw ``eventCategory`` of every
AWS record, which would cost a full text scan of the batch.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.ipc

from pipelines.lake_files import replace_whole
from pipelines.private import private_dir

COUNTS_DIR: Final = "_counts"
COUNTS_SCHEMA: Final = pa.schema(
    [
        pa.field("account", pa.string()),
        pa.field("log_type", pa.string()),
        pa.field("hour", pa.int8()),
        pa.field("n", pa.int64()),
        pa.field("last", pa.timestamp("us", tz="UTC")),
    ]
)
"""One row per (account, log type, UTC hour of the partition's day): events and the latest."""
AWS_LOG_TYPES: Final = ("management", "lambda_data", "s3_data")
GCP_LOG_TYPES: Final = ("activity", "data_access", "system_event", "policy", "request")
_S3_OBJECT_CALLS: Final = (
    "GetObject", "PutObject", "DeleteObject", "DeleteObjects", "CopyObject", "HeadObject",
    "GetObjectAcl", "PutObjectAcl", "RestoreObject", "SelectObjectContent",
)  # fmt: skip
_GCP_LOG_NAME: Final = r"googleapis\.com%2F(?P<log>[a-z_-]+)"
_GCP_LOGS: Final = {
    "activity": "activity",
    "data_access": "data_access",
    "system_event": "system_event",
    "policy": "policy",
    "requests": "request",
    "cloud-functions": "request",
}
UNKNOWN: Final = "other"
"""A Google Cloud entry whose ``logName`` names no audit or request log."""


def log_types(provider: str, events: pa.Table) -> pa.Array:
    """The log type of each row of one provider's events (``service``, ``raw_action``, ``raw``)."""
    if provider == "gcp":
        found = pc.extract_regex(events["raw"], _GCP_LOG_NAME)
        names = pc.struct_field(found, "log")
        keys = pa.array(list(_GCP_LOGS))
        values = pa.array(list(_GCP_LOGS.values()))
        index = pc.index_in(names, value_set=keys)
        return pc.fill_null(pc.take(values, index), UNKNOWN).combine_chunks()
    service, raw_action = events["service"], events["raw_action"]
    invoke = pc.and_(
        pc.equal(service, "lambda.amazonaws.com"), pc.starts_with(raw_action, "Invoke")
    )
    s3_object = pc.and_(
        pc.equal(service, "s3.amazonaws.com"),
        pc.is_in(raw_action, value_set=pa.array(_S3_OBJECT_CALLS)),
    )
    kinds = pc.if_else(
        pc.fill_null(invoke, False),
        "lambda_data",
        pc.if_else(pc.fill_null(s3_object, False), "s3_data", "management"),
    )
    return kinds.combine_chunks() if isinstance(kinds, pa.ChunkedArray) else kinds


def count_events(provider: str, events: pa.Table) -> pa.Table:
    """``events`` of one provider and day as counts rows (``COUNTS_SCHEMA``)."""
    if not events.num_rows:
        return COUNTS_SCHEMA.empty_table()
    rows = pa.table(
        {
            "account": pc.fill_null(events["account"], ""),
            "log_type": log_types(provider, events),
            "hour": pc.cast(pc.hour(events["time"]), pa.int8()),
            "time": events["time"],
        }
    )
    return _sum(
        rows.group_by(["account", "log_type", "hour"])
        .aggregate([("time", "count"), ("time", "max")])
        .rename_columns(["account", "log_type", "hour", "n", "last"])
    )


def merge_counts(*tables: pa.Table) -> pa.Table:
    """Counts tables added together."""
    both = pa.concat_tables([t.cast(COUNTS_SCHEMA) for t in tables])
    summed = both.group_by(["account", "log_type", "hour"]).aggregate(
        [("n", "sum"), ("last", "max")]
    )
    return _sum(summed.rename_columns(["account", "log_type", "hour", "n", "last"]))


def _sum(table: pa.Table) -> pa.Table:
    return table.select(COUNTS_SCHEMA.names).cast(COUNTS_SCHEMA)


class PartitionCounts:
    """The counts files of one lake: read, add to, drop. The caller holds the writer lock for
    ``add`` and ``drop``."""

    def __init__(self, fs: pafs.FileSystem, root: str, *, local: bool) -> None:
        self.fs, self.root, self.local = fs, root, local

    def path(self, provider: str, day: date) -> str:
        return f"{self._folder(provider)}/date={day.isoformat()}.arrow"

    def _folder(self, provider: str) -> str:
        return f"{self.root}/{COUNTS_DIR}/provider={provider}"

    def read(self, provider: str, day: date) -> pa.Table | None:
        """The partition's counts; None when no file was kept for it."""
        path = self.path(provider, day)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_file(path) as source:
            return pa.ipc.open_file(source).read_all().cast(COUNTS_SCHEMA)

    def add(self, provider: str, day: date, events: pa.Table) -> None:
        """Count ``events`` (rows just written to the partition) into its file."""
        if not events.num_rows:
            return
        new = count_events(provider, events)
        have = self.read(provider, day)
        self.write(provider, day, new if have is None else merge_counts(have, new))

    def write(self, provider: str, day: date, counts: pa.Table) -> None:
        """Replace the partition's counts, whole or not at all."""
        folder = self._folder(provider)
        if self.local:
            private_dir(f"{self.root}/{COUNTS_DIR}")
            private_dir(folder)

        def write(path: str) -> None:
            with self.fs.open_output_stream(path) as out:
                _write_ipc(out, counts)

        replace_whole(self.fs, folder, self.path(provider, day), write, local=self.local)

    def drop(self, provider: str, day: date) -> None:
        """Forget a partition's counts (its events were deleted)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(provider, day))


def _write_ipc(out: Any, counts: pa.Table) -> None:
    with pa.ipc.new_file(out, COUNTS_SCHEMA) as writer:
        writer.write_table(counts.cast(COUNTS_SCHEMA))
