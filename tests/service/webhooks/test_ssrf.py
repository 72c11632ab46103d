from __future__ import annotations

import socket

import pytest

from service.webhooks.ssrf import BlockedDestination, check_url


def resolving_to(*addresses):
    """A resolver answering like getaddrinfo with fixed addresses (what a hostile DNS returns)."""

    def resolve(host, port, type=0):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://169.254.10.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_metadata_and_link_local_are_always_refused(url, allow_private):
    with pytest.raises(BlockedDestination):
        check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3/", "http://127.0.0.1:8080/", "http://[::1]/", "http://192.168.1.1/"]
)
def test_private_and_loopback_refused_without_allow_private(url):
    with pytest.raises(BlockedDestination, match="ALLOW_PRIVATE"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True).ip


def test_hostname_resolving_to_loopback_is_refused_without_allow_private():
    with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1"):
        check_url(
            "https://hooks.example.com/x", allow_private=False, resolver=resolving_to("127.0.0.1")
        )


def test_hostname_resolving_to_metadata_is_refused_even_with_allow_private():
    with pytest.raises(BlockedDestination, match="metadata"):
        check_url(
            "https://hooks.example.com/x",
            allow_private=True,
            resolver=resolving_to("203.0.113.9", "169.254.169.254"),
        )


def test_public_hostname_is_pinned_to_the_checked_address():
    target = check_url(
        "https://hooks.example.com/a/b?c=1", allow_private=False, resolver=resolving_to("8.8.8.8")
    )
    assert target.pinned_url == "https://8.8.8.8:443/a/b?c=1"
    assert target.host_header == "hooks.example.com"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "http://user:pw@example.com/", "http:///x"]
)
def test_malformed_or_credentialed_urls_are_refused(url):
    with pytest.raises(BlockedDestination):
        check_url(url, allow_private=True)
