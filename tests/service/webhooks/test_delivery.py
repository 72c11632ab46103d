"""One attempt against real receivers on 127.0.0.1: classification for the retry policy."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from service.webhooks.delivery import parse_retry_after, post
from service.webhooks.signing import signed_headers
from tests.ports import free_port
from tests.service.webhooks.receivers import Step, receiver
from tests.service.webhooks.test_ssrf import resolving_to
from tests.service.webhooks.tls import make_tls

pytestmark = pytest.mark.integration  # real HTTP servers on 127.0.0.1

SECRET = "whsec_test"


@pytest.fixture
def client():
    with httpx.Client(timeout=httpx.Timeout(2.0, read=0.5)) as c:
        yield c


def attempt(client, url, **kw):
    body = b'{"hello":"world"}'
    headers = signed_headers(SECRET.encode(), body, event="test", delivery_id="d-1")
    return post(client, url, body, headers, allow_private=True, **kw)


def test_success_is_signed_and_verified_by_receiver(client):
    with receiver(SECRET) as r:
        result = attempt(client, r.url)
    assert result.ok
    assert result.status_code == 200
    assert [c.verified for c in r.calls] == [True]


def test_server_error_and_429_are_retryable_with_retry_after(client):
    with receiver(SECRET, [Step(503), Step(429, headers={"Retry-After": "7"})]) as r:
        first = attempt(client, r.url)
        second = attempt(client, r.url)
    assert (first.ok, first.retryable, first.status_code) == (False, True, 503)
    assert (second.retryable, second.retry_after) == (True, 7.0)


def test_client_error_is_not_retryable(client):
    with receiver(SECRET, [Step(410)]) as r:
        result = attempt(client, r.url)
    assert (result.ok, result.retryable) == (False, False)


def test_connection_refused_is_retryable(client):
    result = attempt(client, f"http://127.0.0.1:{free_port()}/hook")
    assert (result.ok, result.retryable) == (False, True)
    assert "Connect" in (result.error or "")


def test_read_timeout_is_retryable(client):
    with receiver(SECRET, [Step(200, delay=1.5)]) as r:
        result = attempt(client, r.url)
    assert (result.ok, result.retryable) == (False, True)
    assert "Timeout" in (result.error or "")


def test_redirect_to_metadata_is_not_followed_and_is_refused(client):
    location = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    with receiver(SECRET, [Step(307, headers={"Location": location})]) as r:
        result = attempt(client, r.url)
    assert (result.ok, result.retryable, result.status_code) == (False, False, 307)
    assert "redirect refused" in (result.error or "")
    assert "metadata" in (result.error or "")
    assert len(r.calls) == 1


def test_hostname_is_resolved_once_and_connection_pinned_to_checked_address(client):
    answers = iter(["127.0.0.1", "169.254.169.254"])

    def rebinding_resolver(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    with receiver(SECRET) as r:
        result = attempt(client, f"http://receiver.test:{r.port}/hook", resolver=rebinding_resolver)
    assert result.ok
    assert r.calls[0].host == f"receiver.test:{r.port}"


def test_private_receiver_refused_without_allow_private(client):
    with receiver(SECRET) as r:
        body = b"{}"
        headers = signed_headers(b"k", body, event="test", delivery_id="d")
        result = post(client, r.url, body, headers, allow_private=False)
    assert (result.ok, result.retryable) == (False, False)
    assert r.calls == []


@pytest.mark.parametrize(
    ("value", "seconds"), [("120", 120.0), (None, None), ("soon", None), ("0", 0.0)]
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_https_is_pinned_to_checked_address_with_sni_and_certificate_of_the_hostname(tmp_path):
    server_ctx, client_ctx = make_tls(tmp_path, "hooks.receiver.test")
    resolver = resolving_to("127.0.0.1")
    with receiver(SECRET) as r:
        r.server.socket = server_ctx.wrap_socket(r.server.socket, server_side=True)
        with httpx.Client(verify=client_ctx, timeout=2.0) as c:
            good = attempt(c, f"https://hooks.receiver.test:{r.port}/hook", resolver=resolver)
            wrong_name = attempt(c, f"https://other.test:{r.port}/hook", resolver=resolver)
    assert good.ok, good.error
    assert r.calls[0].host == f"hooks.receiver.test:{r.port}"
    assert r.calls[0].verified
    assert (wrong_name.ok, wrong_name.retryable) == (False, True)
    assert "certificate" in (wrong_name.error or "").lower()


def test_huge_response_body_is_read_only_up_to_the_limit(client):
    total = 256 * 1024 * 1024
    with receiver(SECRET, [Step(200, stream_bytes=total)]) as r:
        result = attempt(client, r.url, max_response_bytes=1024)
        deadline = time.monotonic() + 10
        while not r.streamed and time.monotonic() < deadline:
            time.sleep(0.05)
    assert result.ok
    assert len(result.response_excerpt) <= 500
    assert r.streamed[0] < total  # the client hung up long before the end
