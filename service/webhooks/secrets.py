"""Webhook signing secrets at rest: AES-GCM under the service key, or a reference to a vault.

A stored value is either ``v1:<base64 nonce+ciphertext>`` (encrypted with a key derived from
``Settings.secret_key``, bound to the subscription id so rows cannot be swapped), or a
reference read at delivery time: ``aws-sm://NAME`` (AWS Secrets Manager) or
``gcp-sm://projects/P/secrets/S/versions/V`` (Google Secret Manager). Secrets never appear in
logs, reprs or error messages.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as pysecrets
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.settings import Settings

_PREFIX = "v1:"
_KEY_FILE = "secret.key"
AWS_PREFIX = "aws-sm://"
GCP_PREFIX = "gcp-sm://"


class SecretError(RuntimeError):
    """A secret could not be stored or read; the message names the reference, never the value."""


def new_secret() -> str:
    """A fresh signing secret, shown to the admin once."""
    return "whsec_" + pysecrets.token_urlsafe(32)


def _master_key(settings: Settings) -> bytes:
    """The AES key: from FUNCTRAIL_SECRET_KEY, else a 0600 key file created in the data folder."""
    if settings.secret_key is not None:
        material = settings.secret_key.get_secret_value().encode()
    else:
        path = Path(settings.home) / _KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(pysecrets.token_urlsafe(32))
        material = path.read_text().strip().encode()
    return hashlib.sha256(b"functrail-webhook-secrets\x00" + material).digest()


def is_reference(stored: str) -> bool:
    """True for ``aws-sm://`` and ``gcp-sm://`` references."""
    return stored.startswith((AWS_PREFIX, GCP_PREFIX))


def encrypt(settings: Settings, plaintext: str, *, context: str) -> str:
    """Encrypt ``plaintext`` for storage; ``context`` (the subscription id) is authenticated."""
    nonce = os.urandom(12)
    sealed = AESGCM(_master_key(settings)).encrypt(nonce, plaintext.encode(), context.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(settings: Settings, stored: str, *, context: str) -> str:
    """The plaintext of an ``encrypt`` result; SecretError if the key or context is wrong."""
    if not stored.startswith(_PREFIX):
        raise SecretError(f"stored secret of subscription {context} has an unknown format")
    blob = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
    try:
        plain = AESGCM(_master_key(settings)).decrypt(blob[:12], blob[12:], context.encode())
        return plain.decode()
    except InvalidTag:
        raise SecretError(
            f"stored secret of subscription {context} does not decrypt with this key"
        ) from None


def resolve(
    settings: Settings,
    stored: str,
    *,
    context: str,
    aws_client: Any | None = None,
    gcp_endpoint: str = "https://secretmanager.googleapis.com",
) -> str:
    """The usable secret behind a stored value: decrypted, or fetched from its vault."""
    if stored.startswith(AWS_PREFIX):
        return _aws(stored[len(AWS_PREFIX) :], aws_client)
    if stored.startswith(GCP_PREFIX):
        return _gcp(stored[len(GCP_PREFIX) :], gcp_endpoint)
    return decrypt(settings, stored, context=context)


def _aws(name: str, client: Any | None) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    sm = client or boto3.client("secretsmanager")
    try:
        value = sm.get_secret_value(SecretId=name)
    except (BotoCoreError, ClientError) as exc:
        raise SecretError(f"aws-sm://{name}: {type(exc).__name__}") from None
    if "SecretString" in value:
        return str(value["SecretString"])
    return base64.b64decode(value["SecretBinary"]).decode()


def _gcp(name: str, endpoint: str) -> str:
    import google.auth
    import google.auth.transport.requests

    parts = name.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[2] != "secrets" or parts[4] != "versions":
        raise SecretError("gcp-sm:// reference must be projects/P/secrets/S/versions/V")
    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        credentials.refresh(google.auth.transport.requests.Request())
        response = httpx.get(
            f"{endpoint}/v1/{name}:access",
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=10.0,
        )
        response.raise_for_status()
        data = response.json()["payload"]["data"]
    except Exception as exc:
        raise SecretError(f"gcp-sm://{name}: {type(exc).__name__}") from None
    return base64.b64decode(data).decode()
