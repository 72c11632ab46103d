"""Memory of ingesting one day: ``ingest_range`` alone (the daily job's first step) into an
empty lake, RSS sampled every 50 ms beside what Arrow and glibc malloc hold.

    python bench/ingest_memory.py DAY_DIR            # a simulated day (bench/score.py --logs)
    python bench/ingest_memory.py DAY_DIR --series out.tsv

Prints one JSON line: events, CPU seconds and events per CPU-second (CPU, not wall: the machine
is shared), the peak RSS and, at that moment, Arrow's allocated bytes and glibc's heap in use
(``mallinfo2``: Python objects over 512 bytes, numpy arrays such as the lake's id index,
blob bytes), and the RSS left after the last batch. What the three do not explain is
allocator-kept pages and Python's small-object arenas. ``--series`` writes every sample.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from pipelines.ingest import ingest_range
from pipelines.lake import EventLake
from pipelines.settings import Settings

DAY = datetime(2026, 3, 2, tzinfo=UTC)
MIB = 2**20


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def _heap_in_use() -> int:
    """Bytes glibc malloc hands out now (heap chunks + mmapped blocks); 0 off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):
        return 0
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


class Sampler:
    """Samples (seconds, RSS, Arrow allocated, heap in use) in MiB every 50 ms on a thread."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, int, int, int]] = []
        self._began = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * resource.getpagesize()
            self.rows.append(
                (
                    round(time.perf_counter() - self._began, 2),
                    rss // MIB,
                    pa.total_allocated_bytes() // MIB,
                    _heap_in_use() // MIB,
                )
            )
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", type=Path, help="a simulated day's folder")
    parser.add_argument("--series", type=Path, help="write every sample here (TSV)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        settings = Settings(home=Path(tmp) / "home", lake=str(Path(tmp) / "lake"))
        lake = EventLake(settings.lake_root)
        sampler = Sampler()
        cpu = time.process_time()
        tally = ingest_range([str(args.logs)], lake, settings, DAY, DAY + timedelta(days=1))
        cpu = time.process_time() - cpu
        time.sleep(0.2)
        sampler.stop()
    at_peak = max(sampler.rows, key=lambda row: row[1])
    report = {
        "events": tally.new,
        "rejects": len(tally.rejects),
        "cpu_s": round(cpu, 1),
        "events_per_cpu_s": round(tally.new / cpu),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "at_sampled_peak": {"rss": at_peak[1], "arrow": at_peak[2], "heap": at_peak[3]},
        "max_arrow_mib": max(row[2] for row in sampler.rows),
        "rss_after_mib": sampler.rows[-1][1],
        "arrow_pool": pa.default_memory_pool().backend_name,
    }
    print(json.dumps(report))
    if args.series:
        args.series.write_text("".join("\t".join(map(str, r)) + "\n" for r in sampler.rows))


if __name__ == "__main__":
    main()
