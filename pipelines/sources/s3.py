"""CloudTrail log files in S3 (``s3://bucket/prefix``), as a trail delivers them.

Layout: ``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz``.
Accounts and regions are discovered with delimiter listings, then only the day prefixes of the
requested range are listed: a trail bucket holds years of files and is never listed whole.

The checkpoint keeps, per day prefix, the names of the files already stored. File names carry
the delivery minute but a random suffix too, so a late file can sort before one already read;
a name set (not a "last key" watermark) never skips it.

A trail files each log under the day it was *delivered*, typically 5-15 minutes after its
events: the last minutes of day D sit in D+1's folder. A range therefore also reads the files
delivered in the first ``DELIVERY_LAG`` after it ends (their file names carry the delivery
minute, and keys sort by it). Those files are read but not marked done, because the job that
asked for the range keeps only its own events from them; the next day's run reads them again
in full.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from pipelines.checkpoints import Checkpoint
from pipelines.rejects import Reject
from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef, BlobRejected, fetch_blobs
from pipelines.sources.resumable import as_utc, days_between

log = logging.getLogger(__name__)

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_DELIVERED = re.compile(r"_(\d{8}T\d{4}Z)_[^/]*$")
DIRECT_DAYS = 7
"""Ranges up to this many days list each day prefix; longer ones discover the days first."""
DELIVERY_LAG = timedelta(hours=1)
"""How long after a range ends its last events may still be delivered (CloudTrail: ~15 min)."""


def s3_client(endpoint_url: str | None) -> Any:
    """An S3 client with standard retries (boto3 also honours ``AWS_ENDPOINT_URL``)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 8}),
    )


@cache
def _worker_client(endpoint_url: str | None) -> Any:
    """One client per process and endpoint: a worker reads many objects, connections reused."""
    return s3_client(endpoint_url)


class S3Object:
    """One log file as a reference: pickles without its client, so a Dask worker builds its own
    (from the worker's credentials) and reads the object itself.
    """

    __slots__ = ("bucket", "client", "endpoint_url", "key", "max_bytes", "name", "size")

    def __init__(
        self,
        name: str,
        bucket: str,
        key: str,
        max_bytes: int,
        size: int = 0,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.name = name
        self.bucket = bucket
        self.key = key
        self.max_bytes = max_bytes
        self.size = size
        self.endpoint_url = endpoint_url
        self.client = client

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.name, self.bucket, self.key, self.max_bytes, self.size, self.endpoint_url)
        return (S3Object, fields)

    def fetch(self) -> bytes:
        """The object's bytes; over ``max_file_bytes`` (by its length) is a reject."""
        client = self.client or _worker_client(self.endpoint_url)
        response = client.get_object(Bucket=self.bucket, Key=self.key)
        body = response["Body"]
        try:
            size = int(response.get("ContentLength") or 0)
            if size > self.max_bytes:
                raise BlobRejected(f"object is {size} bytes, over max_file_bytes={self.max_bytes}")
            data: bytes = body.read()
            return data
        finally:
            body.close()


@dataclass(frozen=True, slots=True)
class _Pending:
    day_prefix: str
    file_name: str
    record: bool = True
    """False for a file read only for its late events (past the range): never marked done."""


class S3Source:
    """A CloudTrail trail bucket; ``blobs`` streams each log file not yet stored."""

    def __init__(
        self,
        uri: str,
        settings: Settings,
        *,
        full: bool = False,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        """``endpoint_url`` overrides boto3's (which also honours ``AWS_ENDPOINT_URL``)."""
        if not uri.startswith("s3://"):
            raise ValueError(f"not an s3:// URI: {uri}")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"s3 URI has no bucket: {uri}")
        self.uri = uri
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self.endpoint_url = endpoint_url
        self.client = client or s3_client(endpoint_url)
        self.checkpoint = Checkpoint(settings.checkpoints_dir, uri, ignore_saved=full)
        self._pending: dict[str, _Pending] = {}
        self.rejects: list[Reject] = []
        self.skipped_digest = 0
        self.skipped_empty = 0

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        """Every log file of every account and region in the day prefixes of ``[start, end)``."""
        return fetch_blobs(self.refs(start, end), self._refused)

    def _refused(self, reject: Reject) -> None:
        """A file refused at fetch is a reject and never marked done."""
        self._pending.pop(reject.source, None)
        self.rejects.append(reject)

    def refs(self, start: datetime, end: datetime) -> Iterator[S3Object]:
        """The log files of ``blobs`` as references, listed here and fetched by whoever reads."""
        done: dict[str, list[str]] = self.checkpoint.state.setdefault("days", {})
        days = days_between(start, end)
        cutoff = as_utc(end) + DELIVERY_LAG
        late_days = [d for d in days_between(end, cutoff) if d not in days]
        for region_prefix in self.region_prefixes():
            listings = [(p, True) for p in self._day_prefixes(region_prefix, days)]
            listings += [(f"{region_prefix}{d:%Y/%m/%d}/", False) for d in late_days]
            for day_prefix, in_range in listings:
                seen = set(done.get(day_prefix, ()))
                for key, size in self._keys(day_prefix):
                    file_name = key[len(day_prefix) :]
                    if not in_range:
                        delivered = _delivered_at(file_name)
                        if delivered is None:
                            continue  # not a trail's name: read with its own day
                        if delivered >= cutoff:
                            break  # a day folder's keys sort by delivery minute
                    if file_name in seen:
                        continue
                    name = f"s3://{self.bucket}/{key}"
                    self._pending[name] = _Pending(day_prefix, file_name, record=in_range)
                    yield S3Object(
                        name,
                        self.bucket,
                        key,
                        self.settings.max_file_bytes,
                        size,
                        self.endpoint_url,
                        self.client,
                    )

    def mark_done(self, blob: BlobRef) -> None:
        """Add the file to its day's name set and save the checkpoint."""
        pending = self._pending.pop(blob.name, None)
        if pending is None or not pending.record:
            return
        days: dict[str, list[str]] = self.checkpoint.state.setdefault("days", {})
        names = days.setdefault(pending.day_prefix, [])
        names.append(pending.file_name)
        self.checkpoint.save()

    def region_prefixes(self) -> list[str]:
        """``.../<account>/CloudTrail/<region>/`` for every account (org trails too) and region."""
        root = f"{self.prefix}/AWSLogs/" if self.prefix else "AWSLogs/"
        accounts: list[str] = []
        for child in self._folders(root):
            name = child[len(root) :].rstrip("/")
            if _ACCOUNT.match(name):
                accounts.append(child)
            elif _ORG.match(name):
                accounts.extend(
                    sub
                    for sub in self._folders(child)
                    if _ACCOUNT.match(sub[len(child) :].rstrip("/"))
                )
            else:
                log.warning("ignoring unexpected folder s3://%s/%s", self.bucket, child)
        regions: list[str] = []
        for account in accounts:
            trail = f"{account}CloudTrail/"
            regions.extend(
                folder
                for folder in self._folders(trail)
                if _REGION.match(folder[len(trail) :].rstrip("/"))
            )
        return regions

    def _day_prefixes(self, region_prefix: str, days: list[date]) -> list[str]:
        """``YYYY/MM/DD/`` prefixes of ``days``; over long ranges only those that exist.

        A year-long range would be hundreds of empty listings per region, so it walks the
        year and month folders (delimiter listings) and keeps the days that fall in range.
        """
        wanted = [f"{region_prefix}{day:%Y/%m/%d}/" for day in days]
        if len(days) <= DIRECT_DAYS:
            return wanted
        in_range = set(wanted)
        years = {f"{region_prefix}{day:%Y}/" for day in days}
        months = {f"{region_prefix}{day:%Y/%m}/" for day in days}
        found: list[str] = []
        for year in self._folders(region_prefix):
            if year not in years:
                continue
            for month in self._folders(year):
                if month in months:
                    found.extend(day for day in self._folders(month) if day in in_range)
        return found

    def _folders(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        found: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            found.extend(common["Prefix"] for common in page.get("CommonPrefixes", []))
        return sorted(found)

    def _keys(self, day_prefix: str) -> Iterator[tuple[str, int]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=day_prefix):
            for obj in page.get("Contents", []):
                key: str = obj["Key"]
                if "CloudTrail-Digest" in key:
                    self.skipped_digest += 1
                elif obj.get("Size", 0) == 0 or key.endswith("/"):
                    self.skipped_empty += 1
                else:
                    yield key, int(obj["Size"])


def _delivered_at(file_name: str) -> datetime | None:
    """The delivery minute a trail writes into each log file's name."""
    found = _DELIVERED.search(file_name)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
