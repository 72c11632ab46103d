from __future__ import annotations

import hashlib
import hmac

from service.webhooks.signing import signature, signed_headers, verify


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(b"s3cret", 1700000000, body) == f"sha256={expected}"


def test_headers_carry_event_delivery_timestamp_and_signature():
    headers = signed_headers(b"k", b"{}", event="alert.created", delivery_id="d-1", timestamp=5)
    assert headers["X-Functrail-Event"] == "alert.created"
    assert headers["X-Functrail-Delivery"] == "d-1"
    assert headers["X-Functrail-Timestamp"] == "5"
    assert headers["X-Functrail-Signature"] == signature(b"k", 5, b"{}")


def test_verify_accepts_fresh_and_rejects_stale_tampered_or_wrong_key():
    body = b'{"alert":1}'
    header = signature(b"k", 1000, body)
    assert verify(b"k", body, "1000", header, now=1010)
    assert not verify(b"k", body, "1000", header, now=1000 + 301)
    assert not verify(b"k", body + b" ", "1000", header, now=1010)
    assert not verify(b"other", body, "1000", header, now=1010)
    assert not verify(b"k", body, "1001", header, now=1010)
    assert not verify(b"k", body, None, header, now=1010)
    assert not verify(b"k", body, "-5", header, now=1010)
