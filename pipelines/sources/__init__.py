"""Where audit records come from: local files, S3 trails, LookupEvents, Cloud Logging.

``open_source`` is the one place a source URI becomes a ``Source``: its scheme picks the
class. Options are query parameters: ``?endpoint=URL`` on a cloud URI points it at another
endpoint (a test server, a VPC endpoint) and is not part of the checkpoint's identity;
``?services=a.googleapis.com,b.googleapis.com`` on a ``gcp-logging://`` URI pulls the audit
entries of those services only (the default is every service) and is part of it.
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
    base, options = _split_options(uri, scheme)
    endpoint = options.get("endpoint")
    try:
        if scheme == "s3":
            from pipelines.sources.s3 import S3Source

            return S3Source(base, settings, full=full, endpoint_url=endpoint)
        if scheme == "cloudtrail":
            from pipelines.sources.lookup_events import LookupEventsSource

            return LookupEventsSource(base, settings, full=full, endpoint_url=endpoint)
        if scheme == "gcp-logging":
            from pipelines.sources.gcp_logging import GcpLoggingSource, parse_services

            services = options.get("services")
            return GcpLoggingSource(
                base,
                settings,
                full=full,
                endpoint_url=endpoint,
                services=parse_services(services) if services else None,
            )
    except ValueError as exc:
        raise UnknownSource(str(exc)) from exc
    if scheme == "sqs":
        raise UnknownSource(
            f"{uri!r}: sqs:// (S3 event notifications) is a source of `functrail watch` only; "
            "read the bucket with s3://"
        )
    raise UnknownSource(
        f"unknown source scheme {scheme!r} in {uri!r}: use s3://, cloudtrail://, "
        "gcp-logging://, file:// or a local path (and sqs:// with functrail watch)"
    )


OPTIONS = {"s3": {"endpoint"}, "cloudtrail": {"endpoint"}, "gcp-logging": {"endpoint", "services"}}
"""The query parameters each cloud scheme takes."""


def _split_options(uri: str, scheme: str) -> tuple[str, dict[str, str]]:
    """The URI without its query, and its options (the last value of each)."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri, {}
    query = parse_qs(parts.query)
    unknown = set(query) - OPTIONS.get(scheme, set())
    if unknown:
        raise UnknownSource(f"unknown source option(s) {sorted(unknown)} in {uri!r}")
    options = {name: values[-1] for name, values in query.items()}
    endpoint = options.get("endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise UnknownSource(f"endpoint must be an http(s) URL in {uri!r}")
    return uri.split("?", 1)[0], options
