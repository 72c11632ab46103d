from __future__ import annotations

import boto3
import pytest
from pydantic import SecretStr

from service.webhooks import secrets


def test_encrypted_secret_roundtrips_and_is_not_plaintext(settings):
    stored = secrets.encrypt(settings, "whsec_abc", context="sub-1")
    assert "whsec_abc" not in stored
    assert secrets.decrypt(settings, stored, context="sub-1") == "whsec_abc"


def test_secret_bound_to_its_subscription(settings):
    stored = secrets.encrypt(settings, "whsec_abc", context="sub-1")
    with pytest.raises(secrets.SecretError, match="sub-2") as info:
        secrets.decrypt(settings, stored, context="sub-2")
    assert "whsec_abc" not in str(info.value)


def test_wrong_key_does_not_decrypt(settings):
    keyed = settings.model_copy(update={"secret_key": SecretStr("one")})
    other = settings.model_copy(update={"secret_key": SecretStr("two")})
    stored = secrets.encrypt(keyed, "whsec_abc", context="s")
    with pytest.raises(secrets.SecretError):
        secrets.decrypt(other, stored, context="s")


def test_generated_key_file_is_private(settings):
    secrets.encrypt(settings, "x", context="s")
    assert (settings.home / "secret.key").stat().st_mode & 0o077 == 0


@pytest.fixture
def moto_secretsmanager(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("secretsmanager", endpoint_url=f"http://{host}:{port}")
    try:
        yield client
    finally:
        server.stop()


@pytest.mark.integration
def test_aws_secrets_manager_reference_is_read_at_delivery(settings, moto_secretsmanager):
    moto_secretsmanager.create_secret(Name="functrail/hook", SecretString="whsec_from_vault")
    value = secrets.resolve(
        settings, "aws-sm://functrail/hook", context="s", aws_client=moto_secretsmanager
    )
    assert value == "whsec_from_vault"


@pytest.mark.integration
def test_missing_aws_secret_names_reference_not_value(settings, moto_secretsmanager):
    with pytest.raises(secrets.SecretError, match="aws-sm://nope"):
        secrets.resolve(settings, "aws-sm://nope", context="s", aws_client=moto_secretsmanager)


def test_gcp_reference_must_name_a_version(settings):
    with pytest.raises(secrets.SecretError, match="versions"):
        secrets.resolve(settings, "gcp-sm://projects/p/secrets/s", context="s")


def _legacy(settings, plaintext: str, context: str) -> str:
    """A value as the v1 code stored it: AES-GCM under SHA-256 of the passphrase, no salt."""
    import base64
    import hashlib
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    material = settings.secret_key.get_secret_value().encode()
    key = hashlib.sha256(b"functrail-webhook-secrets\x00" + material).digest()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode()


def test_a_passphrase_key_is_derived_with_salted_scrypt(settings):
    import base64
    import hashlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keyed = settings.model_copy(update={"secret_key": SecretStr("correct horse")})
    stored = secrets.encrypt(keyed, "whsec_abc", context="s")
    version, salt, blob = stored.split(":")
    assert version == "v2"
    salt_bytes, sealed = base64.urlsafe_b64decode(salt), base64.urlsafe_b64decode(blob)
    assert len(salt_bytes) == secrets.SALT_BYTES
    key = hashlib.scrypt(
        b"correct horse",
        salt=salt_bytes,
        n=secrets.SCRYPT_N,
        r=secrets.SCRYPT_R,
        p=secrets.SCRYPT_P,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    assert AESGCM(key).decrypt(sealed[:12], sealed[12:], b"s") == b"whsec_abc"
    with pytest.raises(Exception):  # noqa: B017, PT011  (the bare SHA-256 key no longer opens it)
        AESGCM(hashlib.sha256(b"functrail-webhook-secrets\x00correct horse").digest()).decrypt(
            sealed[:12], sealed[12:], b"s"
        )


def test_legacy_values_still_decrypt_and_rewrap_makes_them_v2(settings, session):
    from service.webhooks.models import Subscription
    from service.webhooks.store import NewSubscription, create_subscription, rewrap_secrets

    keyed = settings.model_copy(update={"secret_key": SecretStr("old passphrase")})
    request = NewSubscription(
        url="https://hooks.example.com/x", format="pagerduty", routing_key="R0UTING"
    )
    sub, shown = create_subscription(session, keyed, request)
    sub.secret = _legacy(keyed, shown or "", sub.id)
    sub.routing_key = _legacy(keyed, "R0UTING", f"{sub.id}:routing_key")
    session.flush()
    assert secrets.decrypt(keyed, sub.secret, context=sub.id) == shown

    assert rewrap_secrets(session, keyed) == 1
    row = session.get(Subscription, sub.id)
    assert row.secret.startswith("v2:")
    assert row.routing_key.startswith("v2:")
    assert secrets.decrypt(keyed, row.secret, context=sub.id) == shown
    assert secrets.decrypt(keyed, row.routing_key, context=f"{sub.id}:routing_key") == "R0UTING"
    assert rewrap_secrets(session, keyed) == 0
