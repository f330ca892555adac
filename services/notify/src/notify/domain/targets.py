"""Which webhook targets are safe to call (server-side request forgery defence).

A webhook URL is supplied by an organisation, so it must never become a way into our own network:
- only https (plain http only when development settings allow it, never in production);
- no credentials in the URL, a real host name or address;
- every address the host resolves to must be a public one, unless it falls in a network explicitly
  allow-listed in the settings; cloud metadata addresses are refused even then;
- the check runs at registration AND at every send, on the addresses actually connected to (the
  connection is pinned to the vetted address), so DNS rebinding cannot slip past it;
- redirects are never followed (the sender treats a 3xx as a failure).
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

# Instance metadata services (AWS/GCP/Azure/OpenStack, ECS, Alibaba, AWS IPv6): never, allow-list or not.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))
MAX_URL_LENGTH = 2048


class RefusedTarget(ValueError):
    """The URL may not be called. `reason` is a code safe to show and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allowed_networks: tuple[Network, ...] = ()

    @staticmethod
    def of(*, allow_http: bool, allowed_networks: Iterable[str]) -> "TargetPolicy":
        return TargetPolicy(allow_http, tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str          # as written (a name or an address), lower case, no brackets
    port: int
    path: str          # path and query, at least "/"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_for(self, address: str) -> str:
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse(url: str, policy: TargetPolicy) -> Target:
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise RefusedTarget("malformed-url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedTarget("malformed-url") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not policy.allow_http:
            raise RefusedTarget("https-required")
    elif scheme != "https":
        raise RefusedTarget("https-required")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedTarget("credentials-in-url")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise RefusedTarget("malformed-url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def vet_address(address: str, policy: TargetPolicy) -> IPAddress:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        raise RefusedTarget("metadata-address")
    if any(ip in net for net in policy.allowed_networks):
        return ip
    if not ip.is_global or ip.is_multicast:
        raise RefusedTarget("private-address")
    return ip


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve(target: Target, policy: TargetPolicy, resolver: Resolver = system_resolver) -> list[str]:
    """The vetted addresses to connect to. Every address the name resolves to must pass: a name that
    resolves to one public and one private address is refused as a whole."""
    try:
        ipaddress.ip_address(target.host)
        addresses = [target.host]
    except ValueError:
        try:
            addresses = resolver(target.host, target.port)
        except (OSError, UnicodeError):
            raise RefusedTarget("unresolvable-host") from None
    if not addresses:
        raise RefusedTarget("unresolvable-host")
    return [str(vet_address(a, policy)) for a in addresses]


def check(url: str, policy: TargetPolicy, resolver: Resolver = system_resolver) -> tuple[Target, list[str]]:
    target = parse(url, policy)
    return target, resolve(target, policy, resolver)
