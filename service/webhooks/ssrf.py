"""The outbound URL guard: which receivers a webhook may reach, decided on resolved addresses.

A hostname is resolved once, every address it resolves to is checked, and the caller
connects to the checked address (see ``delivery``), so a DNS answer that changes between
check and connect (rebinding) cannot steer a delivery to a refused address. Link-local and
cloud metadata addresses are refused always; private, loopback and other non-global
addresses only unless ``webhook_allow_private`` is set (tests and on-premise receivers).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure (also inside 169.254/16)
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6 instance metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud
    }
)
_ALWAYS_BLOCKED_NETS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("0.0.0.0/8"),
)


class BlockedDestination(ValueError):
    """A webhook URL this service must not send to; the message says which rule refused it."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked destination: connect to ``ip``, present ``host`` (Host header and TLS SNI)."""

    url: str
    scheme: str
    host: str
    port: int
    ip: IPAddress
    path: str

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the hostname."""
        host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _unwrap(ip: IPAddress) -> IPAddress:
    """IPv4 inside IPv6 (``::ffff:169.254.169.254``, 6to4, NAT64) is judged as IPv4."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``ip`` may not receive webhooks, or None when it may."""
    for candidate in {ip, _unwrap(ip)}:
        if candidate in METADATA_ADDRESSES:
            return f"{candidate} is a cloud metadata address"
        if candidate.is_link_local or any(
            candidate.version == net.version and candidate in net for net in _ALWAYS_BLOCKED_NETS
        ):
            return f"{candidate} is link-local"
        unusable = candidate.is_multicast or candidate.is_unspecified or candidate.is_reserved
        if unusable and not candidate.is_loopback:
            return f"{candidate} is not a unicast address"
        if not allow_private and (
            candidate.is_private or candidate.is_loopback or not candidate.is_global
        ):
            return (
                f"{candidate} is a private or loopback address "
                "(set FUNCTRAIL_WEBHOOK_ALLOW_PRIVATE to allow)"
            )
    return None


def parse_url(url: str) -> SplitResult:
    """Syntax checks that need no network: http(s), a host, no credentials in the URL."""
    if len(url) > 2048:
        raise BlockedDestination("webhook URL is longer than 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedDestination(f"webhook URL scheme must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise BlockedDestination("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BlockedDestination("webhook URL must not carry credentials")
    try:
        _ = parts.port
    except ValueError as exc:
        raise BlockedDestination(f"webhook URL port is invalid: {exc}") from None
    return parts


def check_literal(url: str, *, allow_private: bool) -> None:
    """What can be refused without DNS (at subscription time): syntax and literal addresses.

    Hostnames are checked again, resolved, on every attempt.
    """
    parts = parse_url(url)
    try:
        ip = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return
    reason = refusal(ip, allow_private=allow_private)
    if reason:
        raise BlockedDestination(f"refused {ip}: {reason}")


def check_url(url: str, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> Target:
    """Resolve ``url``'s host once and check every address; the first one is the one to use.

    Raises BlockedDestination when any resolved address is refused (a name that resolves to a
    public and a metadata address is refused: a client could pick either), and OSError when
    the name does not resolve (a network error the caller may retry).
    """
    parts = parse_url(url)
    host = parts.hostname or ""
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not addresses:
            raise OSError(f"{host} did not resolve")
    for ip in addresses:
        reason = refusal(ip, allow_private=allow_private)
        if reason:
            raise BlockedDestination(f"refused {host}: {reason}")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url, scheme=scheme, host=host, port=port, ip=addresses[0], path=path)
