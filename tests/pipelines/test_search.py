"""Event search over the lake: filters, newest-first keyset pages, and what the scan skips."""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipelines.lake import EventLake
from pipelines.lake_files import ROW_GROUP_ROWS
from pipelines.search import EventFilter, Position, search_events
from pipelines.search import files as files_module
from pipelines.search.scan import FIRST_WAVE
from tests.factories import BASE_TIME, HOSTILE, events, hour_event

DAY_START = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path) -> EventLake:
    return EventLake(str(tmp_path / "lake"))


def window(**filters: Any) -> EventFilter:
    return EventFilter(since=DAY_START, until=DAY_START + timedelta(days=1), **filters)


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(rows, key=lambda r: (r["time"], r["id"], r["provider"]), reverse=True)
    return [r["id"] for r in ordered]


def all_pages(lake: EventLake, flt: EventFilter, limit: int) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = search_events(lake, flt, limit=limit, after=after)
        assert page.events.num_rows <= limit
        ids += page.events["id"].to_pylist()
        if page.next is None:
            return ids
        after = page.next


def test_pages_walk_every_event_newest_first_with_ties_broken_by_id(lake):
    # three events a second: every page boundary of 4 falls inside a tie
    rows = [hour_event(time=BASE_TIME + timedelta(seconds=i // 3)) for i in range(20)]
    lake.append(events(*rows[:9]))
    lake.append(events(*rows[9:]))  # two files: ties across files too
    assert all_pages(lake, window(), limit=4) == newest_first(rows)


def test_the_same_id_in_both_providers_is_two_events_and_both_are_paged(lake):
    rows = [hour_event(id="same", provider=p, time=BASE_TIME) for p in ("aws", "gcp")]
    lake.append(events(*rows))
    first = search_events(lake, window(), limit=1)
    second = search_events(lake, window(), limit=1, after=first.next)
    got = first.events["provider"].to_pylist() + second.events["provider"].to_pylist()
    assert got == ["gcp", "aws"]
    assert second.next is None


def test_equality_filters_match_exact_values_only(lake):
    rows = [
        hour_event(principal="arn:aws:iam::1:user/alice", action="Invoke", outcome="success"),
        hour_event(principal="arn:aws:iam::1:user/alice", action="Invoke", outcome="failure"),
        hour_event(principal="arn:aws:iam::1:user/alice2", action="Invoke", outcome="failure"),
        hour_event(principal="arn:aws:iam::1:user/bob", action="GetFunction", outcome="failure"),
    ]
    lake.append(events(*rows))
    page = search_events(
        lake,
        window(principal="arn:aws:iam::1:user/alice", action="Invoke", outcome="failure"),
        limit=10,
    )
    assert page.events["id"].to_pylist() == [rows[1]["id"]]


def test_a_null_column_never_equals_a_filter_value(lake):
    lake.append(events(hour_event(error_code=None), hour_event(error_code="AccessDenied")))
    page = search_events(lake, window(error_code="AccessDenied"), limit=10)
    assert page.events["error_code"].to_pylist() == ["AccessDenied"]


def test_source_ip_matches_a_cidr_an_address_and_any_ipv6_spelling(lake):
    rows = [
        hour_event(source_ip="203.0.113.7"),
        hour_event(source_ip="203.0.114.7"),
        hour_event(source_ip="2001:db8::1"),
        hour_event(source_ip="lambda.amazonaws.com"),
        hour_event(source_ip=None),
    ]
    lake.append(events(*rows))
    net = ipaddress.ip_network

    def found(network: str) -> list[str]:
        page = search_events(lake, window(source_ip=net(network, strict=False)), limit=10)
        return page.events["source_ip"].to_pylist()

    assert found("203.0.113.0/24") == ["203.0.113.7"]
    assert found("203.0.114.7") == ["203.0.114.7"]
    assert found("2001:0db8:0000::/48") == ["2001:db8::1"]
    assert found("0.0.0.0/0") == ["203.0.114.7", "203.0.113.7"]


def test_user_agent_is_a_literal_case_insensitive_substring(lake):
    rows = [
        hour_event(user_agent="Boto3/1.34.0 exec-env/AWS_Lambda_python3.12"),
        hour_event(user_agent="aws-cli/2.15.0"),
        hour_event(user_agent="python-requests/2.31 (.*)"),
    ]
    lake.append(events(*rows))
    assert search_events(lake, window(user_agent="boto3"), limit=10).events.num_rows == 1
    # regex metacharacters are plain text: ".*" matches only where it is written
    page = search_events(lake, window(user_agent="(.*)"), limit=10)
    assert page.events["id"].to_pylist() == [rows[2]["id"]]


def test_hostile_values_are_matched_and_returned_verbatim(lake):
    row = hour_event(resource=HOSTILE, user_agent=HOSTILE, principal=HOSTILE)
    lake.append(events(row, hour_event()))
    page = search_events(lake, window(resource=HOSTILE, principal=HOSTILE), limit=10)
    [got] = page.events.to_pylist()
    assert (got["resource"], got["user_agent"], got["principal"]) == (HOSTILE,) * 3


def test_window_is_half_open_and_spans_partitions(lake):
    edge = DAY_START + timedelta(days=1)
    rows = [
        hour_event(time=DAY_START - timedelta(microseconds=1)),
        hour_event(time=DAY_START),
        hour_event(time=edge - timedelta(microseconds=1)),
        hour_event(time=edge),
    ]
    lake.append(events(*rows))
    assert all_pages(lake, window(), limit=10) == newest_first(rows[1:3])
    wide = EventFilter(since=DAY_START - timedelta(days=1), until=edge + timedelta(days=1))
    assert all_pages(lake, wide, limit=3) == newest_first(rows)


def test_provider_filter_reads_only_that_provider(lake):
    lake.append(events(hour_event(provider="aws"), hour_event(provider="gcp")))
    page = search_events(lake, window(provider="gcp"), limit=10)
    assert page.events["provider"].to_pylist() == ["gcp"]
    assert search_events(lake, window(provider="../aws"), limit=10).events.num_rows == 0


def test_raw_is_read_only_when_asked(lake):
    lake.append(events(hour_event(raw={"eventName": "Invoke"})))
    assert "raw" not in search_events(lake, window(), limit=1).events.column_names
    page = search_events(lake, window(), limit=1, include_raw=True)
    assert page.events["raw"].to_pylist() == ['{"eventName":"Invoke"}']


def test_ids_repeated_on_disk_are_returned_once(lake, tmp_path):
    rows = [hour_event(), hour_event()]
    lake.append(events(*rows))
    # what a crash between compaction's write and its deletes leaves: the same rows twice
    [path] = (tmp_path / "lake").rglob("*.parquet")
    shutil.copy(path, path.with_name("part-copy.parquet"))
    assert all_pages(lake, window(), limit=1) == newest_first(rows)


def test_a_filter_on_the_sorted_principal_reads_only_its_row_groups(lake, monkeypatch):
    # one file of several row groups, sorted by principal: one principal sits in one group
    n = ROW_GROUP_ROWS * 3
    rows = many(n, lambda i: {"principal": f"p{i * 3 // n}"})
    lake.append(events(*rows))
    [path] = lake.files("aws", BASE_TIME.date())
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    reads = spy_reads(monkeypatch)
    page = search_events(lake, window(principal="p1"), limit=5)
    assert page.events.num_rows == 5
    # the filter column, then time where it matched, then the page's rows (without raw)
    assert [(index, columns[:1]) for _, index, columns in reads] == [
        (1, ["principal"]),
        (1, ["time"]),
        (1, ["id"]),
    ]
    assert "raw" not in reads[-1][2]


def test_time_is_read_only_for_row_groups_where_a_filter_matched(lake, monkeypatch):
    # a user-agent substring cannot be pruned by statistics: every group's user agents are
    # read, but only the group holding a match has its times read
    n = ROW_GROUP_ROWS * 3
    rows = many(
        n,
        lambda i: {
            "principal": f"p{i * 3 // n}",
            "user_agent": "rare-tool/1" if i == n - 1 else "aws-cli",
        },
    )
    lake.append(events(*rows))
    reads = spy_reads(monkeypatch)
    page = search_events(lake, window(user_agent="RARE-TOOL"), limit=5)
    assert page.events["id"].to_pylist() == [rows[-1]["id"]]
    timed = [index for _, index, columns in reads if columns == ["time"]]
    assert timed == [2]
    assert sorted(index for _, index, columns in reads if columns == ["user_agent"]) == [0, 1, 2]


def test_the_scan_stops_once_a_page_is_newer_than_every_unread_row_group(lake, monkeypatch):
    # files written hour by hour, as a live watcher does: the newest page needs only the first
    # wave of row groups, the newest ones
    hours = 12
    for hour in range(hours):
        at = BASE_TIME + timedelta(hours=hour)
        lake.append(events(*(hour_event(time=at) for _ in range(20))))
    files = {
        path: pq.read_table(path, columns=["time"])["time"][0].as_py()
        for path in lake.files("aws", BASE_TIME.date())
    }
    reads = spy_reads(monkeypatch)
    page = search_events(lake, window(), limit=10)
    assert page.events.num_rows == 10
    read = {path for path, _, _ in reads}
    assert len(read) == FIRST_WAVE
    assert sorted(files[p] for p in read) == sorted(files.values())[-FIRST_WAVE:]


def test_a_row_group_outside_the_window_or_before_the_cursor_is_not_read(lake, monkeypatch):
    early = [hour_event(time=BASE_TIME) for _ in range(3)]
    late = [hour_event(time=BASE_TIME + timedelta(hours=5)) for _ in range(3)]
    lake.append(events(*early))
    lake.append(events(*late))
    reads = spy_reads(monkeypatch)
    last = max(late, key=lambda r: r["id"])
    after = Position(_micros(BASE_TIME + timedelta(hours=1)), last["id"], "aws")
    page = search_events(lake, window(), limit=10, after=after)
    assert sorted(page.events["id"].to_pylist()) == sorted(r["id"] for r in early)
    assert all("time" in columns for _, _, columns in reads)
    assert len({path for path, _, _ in reads}) == 1


def test_windows_over_31_days_are_refused():
    with pytest.raises(ValueError, match="31 days"):
        EventFilter(since=DAY_START, until=DAY_START + timedelta(days=31, microseconds=1))


def test_an_empty_lake_gives_an_empty_last_page(lake):
    page = search_events(lake, window(action="Invoke"), limit=10)
    assert page.events.num_rows == 0
    assert page.next is None


def many(n: int, fields: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``n`` events at BASE_TIME from one factory call: the factories' clock, shared by the
    whole session, moves one second per call, and 24k calls would carry later tests' events
    past midnight."""
    template = hour_event(time=BASE_TIME)
    return [{**template, "id": f"many-{i:06d}", **fields(i)} for i in range(n)]


def spy_reads(monkeypatch) -> list[tuple[str, int, list[str]]]:
    """Record every row-group read of the search: (file, row group, columns)."""
    reads: list[tuple[str, int, list[str]]] = []
    original = files_module.LakeFile.read

    def read(self, indices, columns, **options):
        reads.extend((self.path, index, list(columns)) for index in indices)
        return original(self, indices, columns, **options)

    monkeypatch.setattr(files_module.LakeFile, "read", read)
    return reads


def _micros(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
