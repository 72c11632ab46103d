"""Run partitions here or on an existing Dask cluster; same function, same results."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Runner(Protocol):
    """Maps a function over items, yielding ``(index, result)`` as results arrive."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]: ...


class LocalRunner:
    """In this process, one item after another: memory bounded by one partition."""

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for index, item in enumerate(items):
            yield index, fn(item)


class DaskRunner:
    """On a running ``dask.distributed`` scheduler at ``address`` (``tcp://HOST:PORT``).

    Workers must have this package installed and reach the lake and model registry by the
    same paths (a shared folder, or ``s3://``). Results are taken in submission order, so the
    outcome does not depend on which worker finished first.
    """

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        from distributed import Client

        self.client = Client(address, timeout=timeout, set_as_default=False)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        futures = self.client.map(fn, list(items), pure=False)
        try:
            for index, future in enumerate(futures):
                yield index, future.result()
                future.release()  # results leave the cluster as soon as they are taken
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.client.close()
