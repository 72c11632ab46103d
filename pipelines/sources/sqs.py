"""S3 event notifications from an SQS queue (``sqs://QUEUE_URL``): the objects a trail (or any
writer) puts in a bucket, as they land, for ``functrail watch``.

A message is an S3 event notification (``{"Records": [{"s3": {...}}]}``), the same wrapped in
an SNS envelope (``{"Type": "Notification", "Message": "..."}``), a CloudTrail SNS notice
(``{"s3Bucket": ..., "s3ObjectKey": [...]}``) or an EventBridge ``Object Created`` event; S3's
test event and CloudTrail digest files name nothing to read. Each object named becomes an
``S3Object`` reference. A message is deleted only once every object it named is stored
(``mark_done``); one whose batch failed is offered again by the next poll, and one whose
process died comes back when its visibility timeout ends (the lake drops what was stored).

``QUEUE_URL`` is the queue's URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``, the
``https://`` may be left out); a queue on another endpoint (a test server) is reached there.
``?endpoint=URL`` points the S3 reads at another endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import ClientError

from pipelines.settings import Settings
from pipelines.sources.base import Blob, BlobRef, BlobRejected, fetch_blobs
from pipelines.sources.s3 import S3Object, s3_client

log = logging.getLogger(__name__)

RECEIVE_BATCH = 10
"""SQS's maximum messages per ReceiveMessage."""
MAX_MESSAGES = 200
"""Messages taken per poll at most: a backlog drains over several micro-batches."""
VISIBILITY_SECONDS = 300
"""How long a received message stays hidden: longer than a micro-batch takes."""


class QueuedObject(S3Object):
    """An S3 object a notification named: gone (deleted since) is a reject, not a failure."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.name, self.bucket, self.key, self.max_bytes, self.size, self.endpoint_url)
        return (QueuedObject, fields)

    def fetch(self) -> bytes:
        try:
            return super().fetch()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise BlobRejected(
                    f"object named by a notification is not readable: {code}"
                ) from None
            raise


def objects_named(body: str) -> list[tuple[str, str, int, str | None]]:
    """(bucket, key, size, event time) of each object a notification names; [] for none."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    if isinstance(message, dict) and message.get("Type") == "Notification":
        inner = message.get("Message")
        return objects_named(inner) if isinstance(inner, str) else []
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    found: list[tuple[str, str, int, str | None]] = []
    for record in message.get("Records") or []:
        s3 = record.get("s3") if isinstance(record, dict) else None
        if not isinstance(s3, dict) or not str(record.get("eventName", "")).startswith(
            "ObjectCreated"
        ):
            continue
        bucket = s3.get("bucket", {}).get("name")
        obj = s3.get("object", {})
        if bucket and obj.get("key"):
            key = unquote_plus(str(obj["key"]))
            found.append((bucket, key, int(obj.get("size") or 0), record.get("eventTime")))
    if "s3Bucket" in message and isinstance(message.get("s3ObjectKey"), list):
        found.extend((message["s3Bucket"], str(k), 0, None) for k in message["s3ObjectKey"])
    if message.get("detail-type") == "Object Created" and isinstance(message.get("detail"), dict):
        detail = message["detail"]
        bucket, obj = detail.get("bucket", {}).get("name"), detail.get("object", {})
        if bucket and obj.get("key"):
            found.append((bucket, str(obj["key"]), int(obj.get("size") or 0), message.get("time")))
    return [f for f in found if "CloudTrail-Digest" not in f[1] and not f[1].endswith("/")]


def queue_url(uri: str) -> str:
    """The queue URL of an ``sqs://`` URI (``https://`` added when left out)."""
    rest = uri[len("sqs://") :] if uri.startswith("sqs://") else uri
    if not rest:
        raise ValueError(f"sqs URI has no queue URL: {uri}")
    return rest if rest.startswith(("http://", "https://")) else f"https://{rest}"


def _region(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[-2] == "amazonaws":
        return parts[1]
    return None


class SqsSource:
    """Objects named by the notifications of one queue; ``refs`` receives, ``mark_done``
    deletes."""

    def __init__(
        self,
        uri: str,
        settings: Settings,
        *,
        s3_endpoint: str | None = None,
        max_messages: int = MAX_MESSAGES,
        visibility: int = VISIBILITY_SECONDS,
    ) -> None:
        self.uri = uri
        self.url = queue_url(uri)
        self.settings = settings
        self.max_messages = max_messages
        self.visibility = visibility
        host = urlsplit(self.url)
        aws = (host.hostname or "").endswith(".amazonaws.com")
        self.client = boto3.client(
            "sqs",
            region_name=_region(self.url),
            endpoint_url=None if aws else f"{host.scheme}://{host.netloc}",
            config=Config(retries={"mode": "standard", "max_attempts": 8}),
        )
        self.s3_endpoint = s3_endpoint
        self.s3 = s3_client(s3_endpoint)
        self._held: dict[str, tuple[QueuedObject, float | None]] = {}
        """object name -> (reference, arrival) received and not stored yet"""
        self._waiting: dict[str, set[str]] = {}
        """receipt handle -> names of its objects not stored yet"""
        self.skipped = 0
        """messages that named nothing to read (test events, digests), deleted at once"""

    def refs(self, start: datetime, end: datetime) -> Iterator[QueuedObject]:
        """The objects of newly received messages, after those still held (range ignored)."""
        del start, end
        self._receive()
        for ref, _arrived in list(self._held.values()):
            yield ref

    def blobs(self, start: datetime, end: datetime) -> Iterator[Blob]:
        return fetch_blobs(self.refs(start, end), lambda r: log.warning("%s", r.line()))

    def arrived(self, ref: BlobRef) -> float | None:
        held = self._held.get(ref.name)
        return None if held is None else held[1]

    def mark_done(self, blob: BlobRef) -> None:
        """The object is stored: delete every message whose objects are now all stored."""
        self._held.pop(blob.name, None)
        for handle, names in list(self._waiting.items()):
            names.discard(blob.name)
            if not names:
                self._delete(handle)

    def _receive(self) -> None:
        taken = 0
        while taken < self.max_messages:
            answer = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=RECEIVE_BATCH,
                WaitTimeSeconds=0,
                VisibilityTimeout=self.visibility,
                AttributeNames=["SentTimestamp"],
            )
            messages = answer.get("Messages", [])
            if not messages:
                return
            taken += len(messages)
            for message in messages:
                self._take(message)

    def _take(self, message: dict[str, Any]) -> None:
        handle = message["ReceiptHandle"]
        try:
            named = objects_named(message.get("Body", ""))
        except ValueError as exc:
            log.warning("%s: message %s skipped (%s)", self.uri, message.get("MessageId"), exc)
            return  # left in the queue: its redrive policy moves it to a dead-letter queue
        if not named:
            self.skipped += 1
            self._delete(handle)
            return
        sent = message.get("Attributes", {}).get("SentTimestamp")
        names: set[str] = set()
        for bucket, key, size, when in named:
            name = f"s3://{bucket}/{key}"
            names.add(name)
            if name not in self._held:
                arrived = _epoch(when) or (int(sent) / 1000 if sent else None)
                ref = QueuedObject(
                    name,
                    bucket,
                    key,
                    self.settings.max_file_bytes,
                    size,
                    self.s3_endpoint,
                    self.s3,
                )
                self._held[name] = (ref, arrived)
        self._waiting[handle] = names

    def _delete(self, handle: str) -> None:
        self._waiting.pop(handle, None)
        try:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        except ClientError as exc:  # a handle gone stale: the message comes again, stored once
            log.warning("%s: could not delete a message: %s", self.uri, exc)


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def open_sqs(uri: str, settings: Settings) -> SqsSource:
    """``sqs://QUEUE_URL[?endpoint=S3_URL]`` as a source."""
    base, _, query = uri.partition("?")
    endpoint = None
    for part in query.split("&") if query else ():
        name, _, value = part.partition("=")
        if name != "endpoint":
            raise ValueError(f"unknown sqs source option {name!r} in {uri!r}")
        endpoint = unquote_plus(value)
    return SqsSource(base, settings, s3_endpoint=endpoint)
