"""The score job's runners: they live in ``pipelines.runner`` because ingestion maps through
them too (and ``pipelines`` cannot import ``service``); named here for the job's callers.
"""

from __future__ import annotations

from pipelines.runner import DaskRunner, LocalRunner, Runner

__all__ = ["DaskRunner", "LocalRunner", "Runner"]
