"""``simulate()``: days of an organization's audit logs with labelled attacks, written to disk."""

from __future__ import annotations

import gc
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import chain
from pathlib import Path

import orjson

from pipelines.simulate.attacks import Label, inject, resolve
from pipelines.simulate.emit import Emit
from pipelines.simulate.ids import epoch
from pipelines.simulate.org import Org, build_org
from pipelines.simulate.traffic_aws import aws_day
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
        pending: dict[int, list[Emit]] = defaultdict(list)
        for e in attack_emits:
            pending[e.t // 86400].append(e)
        for d in range(days):
            day_start = first + d * 86400
            for e in chain(
                aws_day(seed, org, day_start, scale), gcp_day(seed, org, day_start, scale)
            ):
                pending[e.t // 86400].append(e)
            _flush(result, org, seed, pending.pop(day_start // 86400, []), day_start)
            if progress:
                progress(d + 1, days)
        for day in sorted(pending):  # records that spilled past the last day (a deploy at 23:59)
            _flush(result, org, seed, pending.pop(day), day * 86400)
    result.paths.sort()
    lines = b"".join(orjson.dumps(asdict(label)) + b"\n" for label in result.labels)
    result.labels_path.write_bytes(lines)
    return result


def _flush(
    result: SimulationResult, org: Org, seed: int, emits: list[Emit], day_start: int
) -> None:
    for e in emits:
        result.events[e.sink[0]] += 1
    result.paths += write_day(result.out, org, seed, day_start, emits)
