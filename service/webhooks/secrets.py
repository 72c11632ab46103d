"""Webhook signing secrets at rest: AES-GCM under the service key, or a reference to a vault.

A stored value is either ``v2:<salt>:<nonce+ciphertext>`` (base64; AES-GCM under a key that
scrypt derives from ``FUNCTRAIL_SECRET_KEY``, or from the key file when it is unset, with the
salt stored beside it; bound to the subscription id so rows cannot be swapped), or a reference
read at delivery time: ``aws-sm://NAME`` (AWS Secrets Manager) or
``gcp-sm://projects/P/secrets/S/versions/V`` (Google Secret Manager). Secrets never appear in
logs, reprs or error messages.

``v1:`` values (AES key = SHA-256 of the passphrase, no salt: a stolen database was one fast
hash away from a guessed passphrase) still decrypt; ``rewrap`` re-encrypts them as ``v2``
(``functrail serve`` runs it at start). Derived keys are cached per (material, salt): one
scrypt (~0.2 s) per process and salt, not per delivery.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import secrets as pysecrets
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

from pipelines.settings import Settings
from service.secretfile import read_or_create

_LEGACY = "v1:"
_PREFIX = "v2:"
_KEY_FILE = "secret.key"
SALT_BYTES = 16
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
"""scrypt cost: 32 MiB and ~0.2 s a derivation on this machine kind (OWASP's minimum is
N=2^17 at r=8 for passwords users pick; a service passphrase is derived once per process)."""
AWS_PREFIX = "aws-sm://"
GCP_PREFIX = "gcp-sm://"


class SecretError(RuntimeError):
    """A secret could not be stored or read; the message names the reference, never the value."""


def new_secret() -> str:
    """A fresh signing secret, shown to the admin once."""
    return "whsec_" + pysecrets.token_urlsafe(32)


def key_file(settings: Settings) -> Path | None:
    """The key file that stands in for ``FUNCTRAIL_SECRET_KEY`` (None when that is set)."""
    return None if settings.secret_key is not None else Path(settings.home) / _KEY_FILE


def key_beside_data(settings: Settings) -> Path | None:
    """The key file, when it sits in the folder that also holds the SQLite database: a copy of
    that folder (a backup, a stolen disk image) then decrypts every webhook secret."""
    path = key_file(settings)
    url = make_url(settings.database)
    if path is None or url.get_backend_name() != "sqlite" or not url.database:
        return None
    database = Path(url.database).resolve()
    home = Path(settings.home).resolve()
    return path if database.is_relative_to(home) else None


def _material(settings: Settings) -> bytes:
    """What the AES key is derived from: the passphrase, else a 0600 key file in the home."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.home) / _KEY_FILE
    return read_or_create(path, lambda: pysecrets.token_urlsafe(32).encode()).strip()


@functools.lru_cache(maxsize=32)
def _derived(material: bytes, salt: bytes) -> bytes:
    return hashlib.scrypt(
        material,
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=4 * 128 * SCRYPT_R * SCRYPT_N,
        dklen=32,
    )


@functools.lru_cache(maxsize=1)
def _salt() -> bytes:
    """This process's salt for what it encrypts (each value stores its own)."""
    return os.urandom(SALT_BYTES)


def _legacy_key(material: bytes) -> bytes:
    return hashlib.sha256(b"functrail-webhook-secrets\x00" + material).digest()


def is_reference(stored: str) -> bool:
    """True for ``aws-sm://`` and ``gcp-sm://`` references."""
    return stored.startswith((AWS_PREFIX, GCP_PREFIX))


def encrypt(settings: Settings, plaintext: str, *, context: str) -> str:
    """Encrypt ``plaintext`` for storage; ``context`` (the subscription id) is authenticated."""
    salt, nonce = _salt(), os.urandom(12)
    key = _derived(_material(settings), salt)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{_PREFIX}{_b64(salt)}:{_b64(nonce + sealed)}"


def decrypt(settings: Settings, stored: str, *, context: str) -> str:
    """The plaintext of an ``encrypt`` result (or a legacy ``v1:`` one); SecretError if the
    key or context is wrong."""
    material = _material(settings)
    try:
        if stored.startswith(_PREFIX):
            salt_text, _, blob_text = stored[len(_PREFIX) :].partition(":")
            key, blob = _derived(material, _unb64(salt_text)), _unb64(blob_text)
        elif stored.startswith(_LEGACY):
            key, blob = _legacy_key(material), _unb64(stored[len(_LEGACY) :])
        else:
            raise SecretError(f"stored secret of subscription {context} has an unknown format")
        plain = AESGCM(key).decrypt(blob[:12], blob[12:], context.encode())
        return plain.decode()
    except (InvalidTag, ValueError):
        raise SecretError(
            f"stored secret of subscription {context} does not decrypt with this key"
        ) from None


def is_legacy(stored: str | None) -> bool:
    """True for a ``v1:`` value, which ``rewrap`` turns into ``v2``."""
    return stored is not None and stored.startswith(_LEGACY)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


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
