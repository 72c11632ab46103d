"""Parsers: from a blob of bytes in any supported input format to raw provider records.

``split_blob`` detects gzip and the format by content; ``pipelines.parse.schema`` names the
fields the normalizer decodes. Parsing never raises for bad input: it records a Reject.
"""

from __future__ import annotations

from pipelines.parse.split import Kind, Split, classify, split_blob

__all__ = ["Kind", "Split", "classify", "split_blob"]
