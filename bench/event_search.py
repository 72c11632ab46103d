"""Event search over one lake day: p50/p95 of a mix of filtered queries, per engine.

    python bench/event_search.py --lake /tmp/ev10m/lake --day 2026-03-02
    python bench/event_search.py --lake L --day D --engines pyarrow,api --repeat 5
    PYTHONPATH=$PWD:/tmp/duck156 python bench/event_search.py --lake L --day D --engines duckdb

Engines, each in a child process of its own (so its peak RSS is its own):

- ``pyarrow``: ``pipelines.search.search_events``, what the API and CLI run;
- ``api``: ``GET /v1/events`` through the real app in process (auth, validation, audit row,
  JSON), over a throwaway SQLite store;
- ``duckdb``: the same query as SQL over the day's files (``read_parquet``, hive partitions,
  ``ORDER BY time DESC, id DESC LIMIT``), if ``duckdb`` is importable; no CIDR filter (its
  ``inet`` extension is a download), so the CIDR queries are left out there;
- ``pandas``: the simplest alternative: read the day (every column but ``raw``) into pandas,
  filter with masks, sort, take the page; ``--pandas-repeat`` (default 1) runs per query.

Each query asks for the first page of 50 events; the filter values are picked from the day
itself (the busiest and a quiet principal, a failing action, a caller's /24, ...). The first
pages of every engine are compared (ids, in order) and a mismatch is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

LIMIT = 50
RAW_EXCLUDED = "raw"


def catalog(root: str, day: date) -> dict[str, Any]:
    """Values to filter on, counted from the day with Arrow (not timed)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from pipelines.lake import EventLake

    lake = EventLake(root)
    files = [p for provider in lake.providers() for p in lake.files(provider, day)]
    dataset = ds.dataset(files, format="parquet")
    columns = ["principal", "principal_type", "action", "outcome", "source_ip", "account"]
    table = dataset.to_table(columns=columns)

    def top(rows: Any, column: str, last: bool = False) -> str:
        counts = rows.group_by(column).aggregate([([], "count_all")]).drop_null()
        ordered = counts.sort_by([("count_all", "ascending" if last else "descending")])
        return str(ordered[column][0].as_py())

    humans = table.filter(pc.equal(table["principal_type"], "user"))
    failures = table.filter(pc.equal(table["outcome"], "failure"))
    dotted = humans.filter(pc.match_substring_regex(humans["source_ip"], r"^\d+\.\d+\.\d+\.\d+$"))
    ip = top(dotted, "source_ip") if dotted.num_rows else "192.0.2.1"
    return {
        "events": table.num_rows,
        "files": len(files),
        "row_groups": sum(f.metadata.num_row_groups for f in dataset.get_fragments()),
        "busy_principal": top(table, "principal"),
        "quiet_principal": top(humans if humans.num_rows else table, "principal", last=True),
        "failing_action": top(failures, "action") if failures.num_rows else "GetFunction",
        "cidr": ".".join(ip.split(".")[:3]) + ".0/24",
        "account": top(table, "account"),
    }


def queries(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The mix: name -> filters (as query parameters)."""
    return {
        "quiet principal": {"principal": values["quiet_principal"]},
        "busiest principal": {"principal": values["busy_principal"]},
        "action + failure": {"action": values["failing_action"], "outcome": "failure"},
        "account + UpdateFunctionCode": {
            "account": values["account"],
            "action": "UpdateFunctionCode",
        },
        "error_code AccessDenied*": {"error_code": "AccessDeniedException"},
        "source_ip /24": {"source_ip": values["cidr"]},
        "user_agent 'aws-cli'": {"user_agent": "aws-cli"},
        "principal_type root": {"principal_type": "root"},
        "no filter (newest 50)": {},
        "quiet principal, with raw": {
            "principal": values["quiet_principal"],
            "include_raw": "true",
        },
    }


# -- engines (run in a child process) -----------------------------------------------------------


def run_pyarrow(root: str, window: tuple[datetime, datetime], params: dict[str, str]) -> list[str]:
    import ipaddress

    from pipelines.lake import EventLake
    from pipelines.search import EventFilter, search_events

    filters: dict[str, Any] = dict(params)
    include_raw = filters.pop("include_raw", None) == "true"
    if "source_ip" in filters:
        filters["source_ip"] = ipaddress.ip_network(filters["source_ip"], strict=False)
    flt = EventFilter(since=window[0], until=window[1], **filters)
    page = search_events(EventLake(root), flt, limit=LIMIT, include_raw=include_raw)
    return page.events["id"].to_pylist()


class ApiEngine:
    def __init__(self, root: str) -> None:
        from fastapi.testclient import TestClient

        from pipelines.settings import Settings
        from service.api.app import create_app
        from service.api.limits import ApiLimits
        from service.db import open_database
        from service.keys.store import create_key, server_secret

        home = Path(tempfile.mkdtemp(prefix="ft-bench-events-"))
        settings = Settings(home=home, lake=root)
        db = open_database(settings)
        with db.session() as session:
            key = create_key(
                session, name="bench", role="viewer", secret=server_secret(settings.home)
            ).key
        app = create_app(settings, database=db, limits=ApiLimits(rate_per_second=1e6, burst=10**6))
        self.client = TestClient(app)
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, window: tuple[datetime, datetime], params: dict[str, str]) -> list[str]:
        query = {"since": window[0].isoformat(), "until": window[1].isoformat(), "limit": LIMIT}
        answer = self.client.get("/v1/events", params={**query, **params}, headers=self.headers)
        answer.raise_for_status()
        return [item["id"] for item in answer.json()["items"]]


def run_duckdb(
    files: list[str], window: tuple[datetime, datetime], params: dict[str, str]
) -> list[str] | None:
    import duckdb

    if "source_ip" in params:
        return None
    params = dict(params)
    columns = "*" if params.pop("include_raw", None) == "true" else "* EXCLUDE (raw)"
    where = ["time >= ?", "time < ?"]
    values: list[Any] = [window[0], window[1]]
    for name, value in params.items():
        if name == "user_agent":
            where.append("contains(lower(user_agent), lower(?))")
        else:
            where.append(f"{name} = ?")
        values.append(value)
    # Column names come from this file's mix; every value is a bound parameter.
    sql = (
        f"SELECT {columns} FROM read_parquet(?, hive_partitioning = true) WHERE "  # noqa: S608
        + " AND ".join(where)
        + f" ORDER BY time DESC, id DESC, provider DESC LIMIT {LIMIT}"
    )
    result = duckdb.execute(sql, [files, *values])
    fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table  # 2.x / 1.x
    rows = fetch()
    return rows["id"].to_pylist()


def run_pandas(
    files: list[str], window: tuple[datetime, datetime], params: dict[str, str]
) -> list[str] | None:
    import ipaddress

    import pandas as pd
    import pyarrow.dataset as ds

    from pipelines.events import EVENT_COLUMNS

    if "include_raw" in params:
        return None  # the same rows as without raw: not read again
    dataset = ds.dataset(files, format="parquet", partitioning="hive")
    columns = [c for c in EVENT_COLUMNS if c != RAW_EXCLUDED]
    frame = dataset.to_table(columns=columns).to_pandas(types_mapper=pd.ArrowDtype)
    mask = (frame["time"] >= pd.Timestamp(window[0])) & (frame["time"] < pd.Timestamp(window[1]))
    for name, value in params.items():
        if name == "user_agent":
            mask &= frame[name].str.lower().str.contains(value.lower(), regex=False).fillna(False)
        elif name == "source_ip":
            net = ipaddress.ip_network(value, strict=False)
            inside = {v: _inside(v, net) for v in frame.loc[mask, name].dropna().unique().tolist()}
            mask &= frame[name].map(inside).fillna(False).astype(bool)
        else:
            mask &= (frame[name] == value).fillna(False)
    hits = frame[mask].sort_values(["time", "id", "provider"], ascending=False)
    return hits["id"].head(LIMIT).tolist()


def _inside(text: str, net: Any) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(text) in net
    except ValueError:
        return False


def child(args: argparse.Namespace) -> None:
    """Run one engine over the mix; print a JSON report on stdout."""
    from pipelines.lake import EventLake

    day = date.fromisoformat(args.day)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    window = (start, start + timedelta(days=1))
    lake = EventLake(args.lake)
    files = [p for provider in lake.providers() for p in lake.files(provider, day)]
    mix = json.loads(args.mix)
    engine = args.child
    api = ApiEngine(args.lake) if engine == "api" else None
    repeat = args.pandas_repeat if engine == "pandas" else args.repeat
    report: dict[str, Any] = {"engine": engine, "queries": {}}
    began = time.perf_counter()
    for name, params in mix.items():
        times, ids = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            if engine == "pyarrow":
                ids = run_pyarrow(args.lake, window, params)
            elif engine == "api":
                assert api is not None
                ids = api(window, params)
            elif engine == "duckdb":
                ids = run_duckdb(files, window, params)
            else:
                ids = run_pandas(files, window, params)
            if ids is None:
                break
            times.append(time.perf_counter() - t0)
        report["queries"][name] = {"seconds": times, "ids": ids}
    report["wall"] = time.perf_counter() - began
    report["peak_rss_mib"] = _peak_rss_mib()
    if engine == "duckdb":
        import duckdb

        report["version"] = duckdb.__version__
    print(json.dumps(report))


def _peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM): ``ru_maxrss`` keeps the parent's peak across
    fork and exec, and the parent read the whole day's filter columns."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--lake", required=True)
    parser.add_argument("--day", required=True, help="YYYY-MM-DD")
    parser.add_argument("--engines", default="pyarrow,api,duckdb,pandas")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pandas-repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    values = catalog(args.lake, date.fromisoformat(args.day))
    print(
        f"day {args.day}: {values['events']:,} events in {values['files']} files, "
        f"{values['row_groups']} row groups"
    )
    mix = queries(values)
    for name, params in mix.items():
        print(f"  {name}: {params}")
    reports = []
    for engine in args.engines.split(","):
        command = [sys.executable, __file__, "--lake", args.lake, "--day", args.day]
        command += ["--child", engine, "--mix", json.dumps(mix)]
        command += ["--repeat", str(args.repeat), "--pandas-repeat", str(args.pandas_repeat)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{engine}: failed\n{done.stderr[-2000:]}")
            continue
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summarize(reports, mix)


def summarize(reports: list[dict[str, Any]], mix: dict[str, dict[str, str]]) -> None:
    header = f"{'query':<30}" + "".join(f"{r['engine']:>22}" for r in reports)
    print("\nmedian seconds per query (first run of each engine's query in brackets)")
    print(header)
    for name in mix:
        cells = []
        for r in reports:
            got = r["queries"][name]["seconds"]
            cells.append(
                f"{statistics.median(got):>12.3f} [{got[0]:.3f}]" if got else f"{'n/a':>22}"
            )
        print(f"{name:<30}" + "".join(f"{c:>22}" for c in cells))
    print()
    for r in reports:
        every = sorted(t for q in r["queries"].values() for t in q["seconds"])
        if not every:
            continue
        p50 = every[len(every) // 2]
        p95 = every[min(len(every) - 1, round(0.95 * (len(every) - 1)))]
        label = r["engine"] + (f" {r['version']}" if "version" in r else "")
        print(
            f"{label:<16} p50 {p50:.3f} s  p95 {p95:.3f} s  max {every[-1]:.3f} s over "
            f"{len(every)} runs; peak RSS {r['peak_rss_mib']:.0f} MiB; wall {r['wall']:.1f} s"
        )
    reference = reports[0]
    for r in reports[1:]:
        for name in mix:
            theirs, ours = r["queries"][name]["ids"], reference["queries"][name]["ids"]
            if theirs is not None and theirs != ours:
                print(f"MISMATCH {r['engine']} vs {reference['engine']} on {name!r}")


if __name__ == "__main__":
    main()
