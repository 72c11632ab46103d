"""The score job's runners live in ``pipelines.runner``, because ingestion maps through them
too and ``pipelines`` cannot import ``service``. This name stays for existing imports
(``bench/score.py``); new code imports ``pipelines.runner``.
"""

from __future__ import annotations

from pipelines.runner import DaskRunner, LocalRunner, Runner

__all__ = ["DaskRunner", "LocalRunner", "Runner"]
