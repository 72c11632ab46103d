"""How fast the simulator writes audit logs, against the simplest alternatives, same run.

Each variant runs in its own process (so its peak memory is its own) on identical arguments:

- ``functrail``: the simulator as shipped (orjson, ISA-L gzip level 1, GC paused);
- ``stdlib``: the same records written with ``json`` and ``gzip`` (level 9), the obvious code;
- ``gc-on``: as shipped but with the cyclic garbage collector left running.

    python bench/simulate_bench.py --days 2 --scale 2          # ~120k events, a few seconds
    python bench/simulate_bench.py --days 7 --scale 5          # ~1M events
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _gc_left_on() -> Iterator[None]:
    yield


def _run(variant: str, out: str, days: int, scale: float, seed: int, queue: Any) -> None:
    from pipelines.simulate import core, writer

    if variant == "stdlib":
        writer.orjson = types.SimpleNamespace(dumps=lambda obj: json.dumps(obj).encode())  # type: ignore[assignment]
        writer.igzip = types.SimpleNamespace(  # type: ignore[assignment]
            compress=lambda data, level, mtime: gzip.compress(data, mtime=mtime)
        )
    if variant == "gc-on":
        core._gc_paused = _gc_left_on
    wall, cpu = time.perf_counter(), time.process_time()
    result = core.simulate(Path(out), days, seed, [], scale=scale, overwrite=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = sum(p.stat().st_size for p in result.paths)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((sum(result.events.values()), len(result.paths), size, wall, cpu, peak_mib))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default="functrail,stdlib,gc-on")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"days={args.days} scale={args.scale} seed={args.seed}")
    print(f"{'variant':<10} {'events':>9} {'files':>6} {'MiB out':>8} {'wall s':>7} {'cpu s':>7} "
          f"{'events/s (cpu)':>15} {'peak MiB':>9}")  # fmt: skip
    for variant in args.variants.split(","):
        out = tempfile.mkdtemp(prefix=f"simbench-{variant}-")
        queue = ctx.Queue()
        proc = ctx.Process(
            target=_run, args=(variant, out, args.days, args.scale, args.seed, queue)
        )
        proc.start()
        events, files, size, wall, cpu, peak = queue.get()
        proc.join()
        shutil.rmtree(out, ignore_errors=True)
        print(f"{variant:<10} {events:>9} {files:>6} {size / 2**20:>8.1f} {wall:>7.1f} {cpu:>7.1f} "
              f"{events / cpu:>15,.0f} {peak:>9.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
