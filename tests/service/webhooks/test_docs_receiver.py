"""The receiver example in docs/webhooks.md really verifies functrail's signatures."""

from __future__ import annotations

import re
import time
from pathlib import Path

from service.webhooks.signing import signed_headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def doc_verify():
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102  (our own doc's snippet)
    return namespace["verify"]


def test_doc_receiver_accepts_a_signed_delivery_and_rejects_tampering_and_staleness():
    verify = doc_verify()
    body = b'{"event":"alert.created"}'
    headers = signed_headers(b"whsec_x", body, event="alert.created", delivery_id="d")
    assert verify("whsec_x", body, headers)
    assert not verify("whsec_y", body, headers)
    assert not verify("whsec_x", body + b" ", headers)
    stale = signed_headers(
        b"whsec_x", body, event="test", delivery_id="d", timestamp=int(time.time()) - 3600
    )
    assert not verify("whsec_x", body, stale)
