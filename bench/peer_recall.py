"""What the pack catches of another pack's attacks: a peer's own test records through ``detect``.

    python bench/peer_recall.py --peer /path/to/panther-analysis [--severity High,Critical]
                                [--rules DIR]... [--keep DIR] [--misses]

Panther's open rule pack (``git clone https://github.com/panther-labs/panther-analysis``) ships,
with each rule, the records it must and must not alert on. Its CloudTrail (``AWS.CloudTrail``)
and Cloud Audit Logs (``GCP.AuditLog``) rules of the chosen severities are read; every test
record is written as its provider logs it (a ``{"Records": [...]}`` trail file, a JSON line per
LogEntry), one file per provider, and ``functrail detect --detectors rules``
runs over them as a user runs it (a fresh process, this checkout's pack, and ``--rules``).

Test records of another kind (a rule for several log types, such as Kubernetes audit events or
threat-intel matches, tests those too) are left out and counted. A record counts as caught when
an alert's ``evidence.event_ids`` names it. Each record gets its own id (``eventID`` /
``insertId`` = ``peer-<n>``); a record without a time gets a fixed one (counted as
``filled``), since the normalizer rejects an event without one. Nothing else is
changed, so a record that only reaches its peer rule through that pack's mocks or enrichment
stays as written.

Reported per provider: positive records caught (any severity; medium and above), negative
records alerted on at medium and above, records rejected, and with ``--misses`` each peer rule
whose positive records were all missed. A peer rule that alerts only after a threshold of
events (``Threshold`` > 1) is counted like the others: its single record is what it looks for.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from pack_precision import functrail  # a sibling script, not a package

LOG_TYPES = {"AWS.CloudTrail": "aws", "GCP.AuditLog": "gcp"}
FIXED_TIME = "2026-03-02T12:00:00Z"
SEVERE = {"medium", "high", "critical"}
_REJECT = re.compile(r"^(?P<file>\S+) record (?P<record>\d+): (?P<reason>.*)$")


@dataclass
class Case:
    """One peer test record: whose rule, which provider, what that rule expects."""

    event_id: str
    provider: str
    rule: str
    expected: bool
    record: dict[str, Any]
    filled: bool


@dataclass
class Tally:
    """Per provider and expectation: records, those alerted on (any / medium+), fills."""

    records: int = 0
    any_alert: int = 0
    severe_alert: int = 0
    filled: int = 0
    rejected: int = 0
    missed_rules: dict[str, list[str]] = field(default_factory=dict)
    """Peer rule -> what became of each of its positive records (rejected / silent)."""


def peer_rules(peer: Path, severities: set[str]) -> list[dict[str, Any]]:
    """The peer's enabled CloudTrail and Cloud Audit Logs rules of ``severities``."""
    rules = []
    for path in sorted((peer / "rules").rglob("*.yml")):
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if not isinstance(spec, dict) or spec.get("AnalysisType") != "rule":
            continue
        if not spec.get("Enabled", True) or spec.get("Severity") not in severities:
            continue
        if any(kind in LOG_TYPES for kind in spec.get("LogTypes") or []):
            rules.append(spec)
    return rules


def provider_of(log: dict[str, Any], log_types: list[str]) -> str | None:
    """The provider whose record ``log`` is, or None: a rule for several log types (Kubernetes
    audit, threat-intel matches on any log) also tests records of other kinds."""
    kind = log.get("p_log_type")
    trail = {key.lower() for key in log} & {"eventname", "eventsource"}
    if kind in (None, "AWS.CloudTrail") and "AWS.CloudTrail" in log_types and trail:
        return "aws"
    if kind in (None, "GCP.AuditLog") and "GCP.AuditLog" in log_types and "protoPayload" in log:
        return "gcp"
    return None


def cases_of(rules: list[dict[str, Any]]) -> tuple[list[Case], int]:
    """Every test record of ``rules`` with a fresh id, in its provider's logged shape; and the
    number of records left out as of neither log type."""
    cases: list[Case] = []
    other = 0
    for spec in rules:
        for test in spec.get("Tests") or []:
            log = test.get("Log")
            provider = provider_of(log, spec["LogTypes"]) if isinstance(log, dict) else None
            if provider is None or not isinstance(log, dict):
                other += 1
                continue
            event_id = f"peer-{len(cases)}"
            record = dict(log)
            if provider == "aws":
                record["eventID"] = event_id
                filled = "eventTime" not in record
                record.setdefault("eventTime", FIXED_TIME)
            else:
                record["insertId"] = event_id
                filled = "timestamp" not in record
                record.setdefault("timestamp", FIXED_TIME)
            cases.append(
                Case(event_id, provider, spec["RuleID"], bool(test.get("ExpectedResult")),
                     record, filled)
            )  # fmt: skip
    return cases, other


def write_inputs(cases: list[Case], folder: Path) -> dict[str, list[str]]:
    """A trail file of the CloudTrail records and a JSON-lines file of the LogEntries; each
    file's name -> the event ids of its records, in order (how detect names a reject)."""
    folder.mkdir(parents=True, exist_ok=True)
    aws = [c for c in cases if c.provider == "aws"]
    gcp = [c for c in cases if c.provider == "gcp"]
    trail = orjson.dumps({"Records": [c.record for c in aws]}, default=str)
    (folder / "cloudtrail.json").write_bytes(trail)
    lines = [orjson.dumps(c.record, default=str) for c in gcp]
    (folder / "auditlogs.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return {
        "cloudtrail.json": [c.event_id for c in aws],
        "auditlogs.jsonl": [c.event_id for c in gcp],
    }


def detect(
    folder: Path, ids: dict[str, list[str]], rules: list[str]
) -> tuple[dict[str, set[str]], dict[str, str], str]:
    """Event id -> severities of the alerts naming it; event id -> why it was rejected; and
    detect's summary line."""
    command = [
        *functrail(), "detect", str(folder),
        "--detectors", "rules", "-f", "jsonl", *(a for r in rules for a in ("--rules", r)),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, check=False, env=dict(os.environ))
    if done.returncode != 0:
        sys.exit(f"detect failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    alerted: dict[str, set[str]] = defaultdict(set)
    for alert_line in done.stdout.splitlines():
        alert = orjson.loads(alert_line)
        for event_id in alert["evidence"]["event_ids"]:
            alerted[event_id].add(alert["severity"])
    said = done.stderr.decode().strip().splitlines()
    rejected: dict[str, str] = {}
    for line in said:
        if found := _REJECT.match(line):
            rejected[ids[Path(found["file"]).name][int(found["record"])]] = found["reason"]
    return alerted, rejected, said[-1] if said else ""


def tally(
    cases: list[Case], alerted: dict[str, set[str]], rejected: dict[str, str]
) -> dict[tuple[str, bool], Tally]:
    """Records alerted on, per provider and expectation; and the peer rules wholly missed,
    with what became of their records."""
    out: dict[tuple[str, bool], Tally] = defaultdict(Tally)
    fates: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        t = out[(case.provider, case.expected)]
        t.records += 1
        t.filled += case.filled
        t.rejected += case.event_id in rejected
        severities = alerted.get(case.event_id, set())
        t.any_alert += bool(severities)
        t.severe_alert += bool(severities & SEVERE)
        if case.expected:
            if case.event_id in rejected:
                fates[case.rule].append("rejected")
            else:
                fates[case.rule].append("alerted" if severities else "silent")
    for case in cases:
        if case.expected and "alerted" not in fates[case.rule]:
            out[(case.provider, True)].missed_rules[case.rule] = fates[case.rule]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", type=Path, required=True, help="a panther-analysis checkout")
    parser.add_argument("--severity", default="High,Critical", help="peer severities (a,b)")
    parser.add_argument("--rules", action="append", default=[], help="extra Sigma rule folder")
    parser.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    parser.add_argument("--misses", action="store_true", help="list the peer rules wholly missed")
    args = parser.parse_args()

    rules = peer_rules(args.peer, set(args.severity.split(",")))
    cases, other = cases_of(rules)
    with tempfile.TemporaryDirectory(prefix="peer-recall-") as scratch:
        folder = args.keep or Path(scratch)
        ids = write_inputs(cases, folder)
        alerted, rejected, summary = detect(folder, ids, args.rules)
    print(
        f"peer rules: {len(rules)} ({args.severity}); records: {len(cases)} "
        f"(left out, of another log type: {other})"
    )
    print(f"detect: {summary}")
    print(f"{'provider':8} {'expected':8} {'records':>7} {'rejected':>8} {'alerted':>10} "
          f"{'medium+':>10} {'filled':>6}")  # fmt: skip
    for (provider, expected), t in sorted(tally(cases, alerted, rejected).items()):
        share = f"{t.any_alert} ({t.any_alert / t.records:.0%})"
        severe = f"{t.severe_alert} ({t.severe_alert / t.records:.0%})"
        print(f"{provider:8} {expected!s:8} {t.records:7} {t.rejected:8} {share:>10} {severe:>10} "
              f"{t.filled:6}")  # fmt: skip
        if args.misses and expected:
            for rule, fates in sorted(t.missed_rules.items()):
                print(f"    missed: {rule} ({', '.join(fates)})")


if __name__ == "__main__":
    main()
