"""Map one function over work items here or on an existing Dask cluster; same function, same
results. Ingestion maps ``normalize_ref`` over blob references, the score job maps
``detect_partition`` over partitions: each through whichever runner the caller chose.

Both runners yield results in submission order, so whatever is built from them (lake files,
alerts) does not depend on which worker finished first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Runner(Protocol):
    """Maps a function over items, yielding ``(index, result)`` in the items' order.

    ``items`` may be a lazy iterator: runners draw from it only as far as they work ahead,
    so a day of blobs is never all in memory.
    """

    remote: bool
    """True when results cross a process boundary: callers move large results another way."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]: ...


class LocalRunner:
    """In this process, one item after another: memory bounded by one item."""

    remote = False

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        for index, item in enumerate(items):
            yield index, fn(item)


class DaskRunner:
    """On a running ``dask.distributed`` scheduler at ``address`` (``tcp://HOST:PORT``).

    Workers must have this package installed and reach the inputs, the lake and the model
    registry by the same paths (a shared folder, or ``s3://``). At most ``ahead`` tasks are in
    flight (default: twice the cluster's worker threads), so results wait on the cluster only
    briefly and a long input is drawn lazily.
    """

    def __init__(self, address: str, *, timeout: float = 30.0, ahead: int | None = None) -> None:
        from distributed import Client

        self.client = Client(address, timeout=timeout, set_as_default=False)
        self.ahead = ahead
        self.remote = True

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[int, R]]:
        ahead = self.ahead or max(2, 2 * sum(self.client.nthreads().values()))
        inflight: deque[Any] = deque()
        taken = 0
        try:
            for item in items:
                inflight.append(self.client.submit(fn, item, pure=False))
                if len(inflight) >= ahead:
                    yield taken, _take(inflight.popleft())
                    taken += 1
            while inflight:
                yield taken, _take(inflight.popleft())
                taken += 1
        finally:
            for future in inflight:  # the caller stopped early or a task failed
                future.cancel()

    def close(self) -> None:
        self.client.close()


def _take(future: Any) -> Any:
    """The task's result (its exception re-raised here); released so the cluster forgets it."""
    try:
        return future.result()
    finally:
        future.release()
