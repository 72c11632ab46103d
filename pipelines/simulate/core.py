"""``simulate()``: days of an organization's audit logs with labelled attacks, written to disk."""

from __future__ import annotations

import gc
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import orjson

from pipelines.simulate.attacks import Label, inject, resolve
from pipelines.simulate.emit import Emit, Sink
from pipelines.simulate.ids import epoch
from pipelines.simulate.org import Org, build_org
from pipelines.simulate.traffic_aws import account_day
from pipelines.simulate.traffic_gcp import gcp_day
from pipelines.simulate.writer import write_day

OUTPUTS = ("aws", "gcp", "labels.jsonl")
Progress = Callable[[int, int], None]


class OutputExists(FileExistsError):
    """The output folder already holds simulated logs; rerun with ``overwrite``."""


@dataclass
class SimulationResult:
    """What a run wrote: files (sorted), events per provider, and the injected attacks."""

    out: Path
    paths: list[Path] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=lambda: {"aws": 0, "gcp": 0})
    labels: list[Label] = field(default_factory=list)

    @property
    def labels_path(self) -> Path:
        return self.out / "labels.jsonl"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hundreds of thousands of fresh dicts make the cyclic GC rescan them all; none are cyclic."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def simulate(
    out: Path,
    days: int,
    seed: int,
    attacks: Sequence[str] = (),
    start: date | None = None,
    scale: float = 1.0,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SimulationResult:
    """Write ``days`` of CloudTrail and Cloud Audit Logs files under ``out`` plus ``labels.jsonl``.

    Same arguments, same bytes. ``start`` defaults to 2026-03-02 (a Monday), not today, so that
    runs are reproducible. ``progress(done_days, days)`` is called after each day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if scale <= 0:
        raise ValueError("scale must be positive")
    resolve(attacks)  # bad names fail before anything is written
    out = Path(out)
    existing = [out / name for name in OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise OutputExists(
            f"{out} already holds simulated logs ({', '.join(p.name for p in existing)}); "
            "use overwrite"
        )
    for p in existing:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    first = epoch(start or date(2026, 3, 2))
    org = build_org(seed)
    result = SimulationResult(out)
    with _gc_paused():
        attack_emits, result.labels = inject(org, seed, attacks, first, days, scale)
        pending = _Pending()
        pending.add(attack_emits)
        for d in range(days):
            day_start = first + d * 86400
            day = day_start // 86400
            # One account at a time, so memory holds one account-day, not the whole day.
            for account in org.accounts:
                pending.add(account_day(seed, org, account, day_start, scale))
                _flush(result, org, seed, pending.take(day, account.id), day_start)
            pending.add(gcp_day(seed, org, day_start, scale))
            _flush(result, org, seed, pending.take(day), day_start)
            if progress:
                progress(d + 1, days)
        for day in pending.days():  # records that spilled past the last day (a deploy at 23:59)
            _flush(result, org, seed, pending.take(day), day * 86400)
    result.paths.sort()
    lines = b"".join(orjson.dumps(asdict(label)) + b"\n" for label in result.labels)
    result.labels_path.write_bytes(lines)
    return result


class _Pending:
    """Generated records waiting for their day's files, bucketed by day and sink."""

    def __init__(self) -> None:
        self._by_day: dict[int, dict[Sink, list[Emit]]] = defaultdict(lambda: defaultdict(list))

    def add(self, emits: Iterable[Emit]) -> None:
        by_day = self._by_day
        for e in emits:
            by_day[e.t // 86400][e.sink].append(e)

    def take(self, day: int, account: str | None = None) -> list[Emit]:
        """Remove and return the day's records (only one AWS account's when ``account`` is set)."""
        sinks = self._by_day.get(day, {})
        keys = [k for k in sinks if account is None or (k[0] == "aws" and k[1] == account)]
        out = [e for k in keys for e in sinks.pop(k)]
        if not sinks:
            self._by_day.pop(day, None)
        return out

    def days(self) -> list[int]:
        return sorted(self._by_day)


def _flush(
    result: SimulationResult, org: Org, seed: int, emits: list[Emit], day_start: int
) -> None:
    for e in emits:
        result.events[e.sink[0]] += 1
    result.paths += write_day(result.out, org, seed, day_start, emits)
