"""Where audit records come from: local files, S3 trails, LookupEvents, Cloud Logging.

``open_source`` is the one place a source URI becomes a ``Source``: its scheme picks the
class. ``?endpoint=URL`` on a cloud URI points it at another endpoint (a test server, a VPC
endpoint); it is not part of the checkpoint's identity.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef, BlobRejected, Referable, Source, blob_refs
from pipelines.sources.resumable import Resumable, mark_done

__all__ = [
    "SCHEMES",
    "Blob",
    "BlobRef",
    "BlobRejected",
    "Referable",
    "Resumable",
    "Source",
    "UnknownSource",
    "blob_refs",
    "mark_done",
    "open_source",
]

SCHEMES = ("s3", "cloudtrail", "gcp-logging", "file")


class UnknownSource(ValueError):
    """A source URI with a scheme functrail does not read, or without its required parts."""


def open_source(uri: str, settings: Settings, *, full: bool = False) -> Source:
    """The source for ``uri``; local paths and globs (no scheme, or ``file://``) read files.

    ``full`` ignores saved checkpoints (the run re-reads everything and saves new ones).
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("", "file"):
        from pipelines.sources.local import LocalSource

        path = uri[len("file://") :] if scheme == "file" else uri
        return LocalSource([path], settings=settings)
    base, endpoint = _split_endpoint(uri)
    try:
        if scheme == "s3":
            from pipelines.sources.s3 import S3Source

            return S3Source(base, settings, full=full, endpoint_url=endpoint)
        if scheme == "cloudtrail":
            from pipelines.sources.lookup_events import LookupEventsSource

            return LookupEventsSource(base, settings, full=full, endpoint_url=endpoint)
        if scheme == "gcp-logging":
            from pipelines.sources.gcp_logging import GcpLoggingSource

            return GcpLoggingSource(base, settings, full=full, endpoint_url=endpoint)
    except ValueError as exc:
        raise UnknownSource(str(exc)) from exc
    raise UnknownSource(
        f"unknown source scheme {scheme!r} in {uri!r}: use s3://, cloudtrail://, "
        "gcp-logging://, file:// or a local path"
    )


def _split_endpoint(uri: str) -> tuple[str, str | None]:
    parts = urlsplit(uri)
    if not parts.query:
        return uri, None
    query = parse_qs(parts.query)
    unknown = set(query) - {"endpoint"}
    if unknown:
        raise UnknownSource(f"unknown source option(s) {sorted(unknown)} in {uri!r}")
    endpoint = query["endpoint"][-1]
    if not endpoint.startswith(("http://", "https://")):
        raise UnknownSource(f"endpoint must be an http(s) URL in {uri!r}")
    return uri.split("?", 1)[0], endpoint
