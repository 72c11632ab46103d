"""Write one day of records in the real file layouts: CloudTrail's S3 keys and a Logging sink's.

CloudTrail delivers a gzip of ``{"Records": [...]}`` per account and region about every five
minutes, several files when a window is busy (here: at most ``MAX_FILE_RECORDS`` each, so a
10M-event day is not a few 650 MB JSON documents that every reader must parse whole); a Cloud
Storage sink writes one LogEntry per line into hourly files per log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path

import orjson
from isal import igzip

from pipelines.simulate.emit import Emit, Sink
from pipelines.simulate.ids import derive, token
from pipelines.simulate.org import Org

_by_time = itemgetter(0)
MAX_FILE_RECORDS = 50_000
"""Reached only above ``scale`` ~24 (1M events a day), so smaller days are written as before."""


def _stamp(t: int, fmt: str) -> str:
    return datetime.fromtimestamp(t, UTC).strftime(fmt)


def cloudtrail_path(
    out: Path, org: Org, account: str, region: str, delivered: int, suffix: str
) -> Path:
    """``aws/AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_X.json.gz``."""
    root = out / "aws" / "AWSLogs"
    if any(a.id == account and a.org_trail for a in org.accounts):
        root = root / org.org_id
    name = f"{account}_CloudTrail_{region}_{_stamp(delivered, '%Y%m%dT%H%MZ')}_{suffix}.json.gz"
    return root / account / "CloudTrail" / region / _stamp(delivered, "%Y/%m/%d") / name


def sink_path(out: Path, log: str, hour_start: int) -> Path:
    """``gcp/cloudaudit.googleapis.com/LOG/YYYY/MM/DD/HH:00:00_HH:59:59_S0.json``."""
    hh = _stamp(hour_start, "%H")
    return (
        out
        / "gcp"
        / "cloudaudit.googleapis.com"
        / log
        / _stamp(hour_start, "%Y/%m/%d")
        / f"{hh}:00:00_{hh}:59:59_S0.json"
    )


def write_day(out: Path, org: Org, seed: int, day_start: int, emits: Iterable[Emit]) -> list[Path]:
    """Write the records of one UTC day; returns the files written."""
    groups: dict[Sink, list[tuple[int, dict[str, object]]]] = defaultdict(list)
    for e in emits:
        groups[e.sink].append((e.t, e.record))
    paths: list[Path] = []
    for sink in sorted(groups):
        rows = groups[sink]
        if sink[0] == "aws":
            rows.sort(key=_by_time)
            paths += _write_cloudtrail(out, org, seed, day_start, sink[1], sink[2], rows)
        else:
            rows.sort(key=lambda r: r[1]["timestamp"])  # type: ignore[arg-type,return-value]
            paths += _write_sink(out, sink[1], rows)
    return paths


def _write_cloudtrail(
    out: Path,
    org: Org,
    seed: int,
    day_start: int,
    account: str,
    region: str,
    rows: list[tuple[int, dict[str, object]]],
) -> list[Path]:
    rng = derive(seed, "files", account, region, day_start)
    paths = []
    i = 0
    window_end = day_start
    while i < len(rows):
        window_end += rng.randint(5, 15) * 60
        j = i
        while j < len(rows) and rows[j][0] < window_end:
            j += 1
        if j == i:
            continue
        # Delivered at the window's end; the day's last file stays in the day's folder.
        delivered = min(window_end, day_start + 86340)
        for k in range(i, j, MAX_FILE_RECORDS):
            path = cloudtrail_path(out, org, account, region, delivered, token(rng, 16))
            path.parent.mkdir(parents=True, exist_ok=True)
            records = [r for _, r in rows[k : min(j, k + MAX_FILE_RECORDS)]]
            path.write_bytes(igzip.compress(orjson.dumps({"Records": records}), 1, mtime=0))
            paths.append(path)
        i = j
    return paths


def _write_sink(out: Path, log: str, rows: list[tuple[int, dict[str, object]]]) -> list[Path]:
    paths = []
    i = 0
    while i < len(rows):
        hour = rows[i][0] - rows[i][0] % 3600
        j = i
        chunks = []
        while j < len(rows) and rows[j][0] < hour + 3600:
            chunks.append(orjson.dumps(rows[j][1]))
            j += 1
        path = sink_path(out, log, hour)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(chunks) + b"\n")
        paths.append(path)
        i = j
    return paths
