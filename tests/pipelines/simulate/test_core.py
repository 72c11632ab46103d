from __future__ import annotations

import gzip
import re
from collections import Counter
from datetime import date, datetime

import orjson
import pandas as pd
import pytest

from pipelines.normalize import normalize_blob
from pipelines.simulate import ATTACKS, OutputExists, UnknownAttack, simulate
from tests.pipelines.simulate.conftest import START, cloudtrail_records, log_entries, relative_files

CLOUDTRAIL_KEY = re.compile(
    r"aws/AWSLogs/(?:o-[a-z0-9]{10}/)?(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/"
    r"(?P=acct)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
SINK_KEY = re.compile(
    r"gcp/cloudaudit\.googleapis\.com/(?P<log>activity|data_access)/(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/"
    r"(?P<h>\d\d):00:00_(?P=h):59:59_S0\.json"
)


def test_same_seed_writes_byte_identical_files(tmp_path):
    a = simulate(tmp_path / "a", days=2, seed=5, attacks=["all"], scale=0.05)
    b = simulate(tmp_path / "b", days=2, seed=5, attacks=["all"], scale=0.05)
    assert a.events == b.events
    assert relative_files(tmp_path / "a") == relative_files(tmp_path / "b")


def test_other_seed_writes_other_traffic(tmp_path):
    simulate(tmp_path / "a", days=1, seed=5, attacks=[], scale=0.05)
    simulate(tmp_path / "b", days=1, seed=6, attacks=[], scale=0.05)
    assert relative_files(tmp_path / "a").keys() != relative_files(tmp_path / "b").keys()


def test_adding_attacks_leaves_baseline_traffic_unchanged(tmp_path):
    plain = simulate(tmp_path / "a", days=2, seed=5, attacks=[], scale=0.05)
    attacked = simulate(tmp_path / "b", days=2, seed=5, attacks=["root-login"], scale=0.05)
    ids = {r["eventID"] for r in cloudtrail_records(plain)}
    ids_attacked = {r["eventID"] for r in cloudtrail_records(attacked)}
    assert ids_attacked - ids == set(attacked.labels[0].event_ids)
    assert ids <= ids_attacked


def test_cloudtrail_files_follow_the_s3_key_layout_with_matching_dates(sim):
    files = [p for p in sim.paths if p.parts[len(sim.out.parts)] == "aws"]
    assert files
    for path in files:
        m = CLOUDTRAIL_KEY.fullmatch(str(path.relative_to(sim.out)))
        assert m, path
        assert m["stamp"].startswith(m["y"] + m["m"] + m["d"])


def test_one_account_is_written_under_the_organization_trail_prefix(sim):
    org_prefixed = {p.relative_to(sim.out).parts[3] for p in sim.paths if "AWSLogs" in p.parts
                    and p.relative_to(sim.out).parts[2].startswith("o-")}  # fmt: skip
    plain = {p.relative_to(sim.out).parts[2] for p in sim.paths if "AWSLogs" in p.parts
             and not p.relative_to(sim.out).parts[2].startswith("o-")}  # fmt: skip
    assert len(org_prefixed) == 1
    assert len(plain) == 2


def test_cloudtrail_file_holds_minutes_of_records_in_time_order(sim):
    for path in [p for p in sim.paths if p.name.endswith(".gz")][:200]:
        records = orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
        times = [r["eventTime"] for r in records]
        assert times == sorted(times)
        first, last = (datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") for t in (times[0], times[-1]))
        assert (last - first).total_seconds() <= 15 * 60
        stamp = datetime.strptime(path.name.split("_")[3], "%Y%m%dT%H%MZ")
        assert stamp >= last.replace(second=0)


def test_sink_files_hold_the_entries_of_their_hour(sim):
    files = [p for p in sim.paths if p.parts[len(sim.out.parts)] == "gcp"]
    logs = set()
    for path in files:
        m = SINK_KEY.fullmatch(str(path.relative_to(sim.out)))
        assert m, path
        logs.add(m["log"])
        for line in path.read_bytes().splitlines():
            entry = orjson.loads(line)
            assert entry["timestamp"].startswith(f"{m['y']}-{m['m']}-{m['d']}T{m['h']}:")
            assert entry["logName"].endswith("cloudaudit.googleapis.com%2F" + m["log"])
    assert logs == {"activity", "data_access"}


def test_every_attack_is_labelled_with_event_ids_that_exist_in_the_output(sim):
    ids = {r["eventID"] for r in cloudtrail_records(sim)} | {
        e["insertId"] for e in log_entries(sim)
    }
    labels = [orjson.loads(line) for line in sim.labels_path.read_bytes().splitlines()]
    assert sorted(lb["scenario"] for lb in labels) == sorted(ATTACKS)
    for label in labels:
        assert label["event_ids"], label["scenario"]
        assert set(label["event_ids"]) <= ids, label["scenario"]
        assert label["kind"] == ATTACKS[label["scenario"]].kind
        assert label["start"] <= label["end"]


def test_attacks_start_after_the_first_three_days_when_there_are_five_or_more(sim):
    assert all(label.start >= "2026-03-05" for label in sim.labels)


@pytest.mark.slow
def test_every_simulated_file_normalizes_with_zero_rejects(sim):
    count = 0
    for path in sim.paths:
        batch = normalize_blob(path.read_bytes(), str(path))
        assert batch.rejects == [], batch.rejects[:3]
        count += len(batch.events)
    assert count == sum(sim.events.values())


def _ids_in(path):
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return {r["eventID"] for r in orjson.loads(gzip.decompress(data))["Records"]}
    return {orjson.loads(line)["insertId"] for line in data.splitlines()}


def test_attack_events_normalize_to_the_labelled_principal_and_account(sim):
    wanted = {i for label in sim.labels for i in label.event_ids}
    files = [p for p in sim.paths if _ids_in(p) & wanted]
    batches = [normalize_blob(p.read_bytes(), str(p)) for p in files]
    assert [r for b in batches for r in b.rejects] == []
    events = pd.concat([b.events for b in batches]).set_index("id")
    for label in sim.labels:
        assert set(events.loc[label.event_ids, "principal"]) == {label.principal}, label.scenario
        assert set(events.loc[label.event_ids, "account"]) == {label.account}, label.scenario


def test_invocations_follow_a_daily_rhythm_more_at_noon_than_at_3am(sim):
    hours = Counter(
        int(r["eventTime"][11:13]) for r in cloudtrail_records(sim)
        if r["eventName"] == "Invoke" and r["eventTime"] < "2026-03-05"
    )  # fmt: skip
    assert hours[12] > 4 * hours[3]


def test_weekend_days_are_quieter_than_weekdays(tmp_path):
    # 2026-03-06 is a Friday, 03-07 a Saturday.
    result = simulate(tmp_path, days=2, seed=3, attacks=[], start=date(2026, 3, 6), scale=0.1)
    days = Counter(
        r["eventTime"][:10] for r in cloudtrail_records(result) if r["eventName"] == "Invoke"
    )
    assert days["2026-03-07"] < 0.7 * days["2026-03-06"]


def test_scale_multiplies_traffic_volume(tmp_path):
    small = simulate(tmp_path / "a", days=1, seed=3, attacks=[], scale=0.05)
    big = simulate(tmp_path / "b", days=1, seed=3, attacks=[], scale=0.2)
    assert 2.5 * small.events["aws"] < big.events["aws"]


def test_existing_output_is_not_overwritten_unless_asked(tmp_path):
    simulate(tmp_path, days=1, seed=1, attacks=[], scale=0.02)
    with pytest.raises(OutputExists):
        simulate(tmp_path, days=1, seed=1, attacks=[], scale=0.02)
    again = simulate(tmp_path, days=1, seed=1, attacks=[], scale=0.02, overwrite=True)
    assert all(p.exists() for p in again.paths)
    assert sum(1 for p in tmp_path.rglob("*.gz")) == sum(
        1 for p in again.paths if p.suffix == ".gz"
    )


def test_unknown_attack_names_the_valid_ones(tmp_path):
    with pytest.raises(UnknownAttack, match="public-lambda"):
        simulate(tmp_path, days=1, seed=1, attacks=["public-lambda", "no-such-attack"])
    assert not (tmp_path / "labels.jsonl").exists()


def test_default_start_is_fixed_not_today(tmp_path):
    result = simulate(tmp_path, days=1, seed=1, attacks=[], scale=0.02)
    first = min(r["eventTime"] for r in cloudtrail_records(result))
    assert first.startswith(START.isoformat())
