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
