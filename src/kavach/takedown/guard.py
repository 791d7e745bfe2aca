"""SSRF protection for URL checks: which addresses may be reached, and a fetcher that keeps to it.

A reported URL is chosen by anyone on the internet, so fetching it must not become a way into the
operator's own network. Every hop (the URL and each redirect) is resolved here, *every* address
the name resolves to is checked against :class:`AddressPolicy`, and the connection is then made
to the checked address itself (the URL's host is replaced by the IP; ``Host`` and TLS SNI carry
the name), so a DNS answer that changes between the check and the connect (DNS rebinding) cannot
redirect the fetch. Through a proxy, HTTPS is tunnelled by name: the proxy is then the network
boundary and must sit outside the operator's network.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import httpx

from kavach.takedown.errors import BlockedAddressError, ContentTypeError, FetchError

__all__ = [
    "BLOCKED_NETWORKS",
    "METADATA_ADDRESSES",
    "AddressPolicy",
    "FetchResult",
    "GuardedFetcher",
    "Resolver",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: how names are resolved (swappable in tests)."""

_net = ipaddress.ip_network

BLOCKED_NETWORKS: tuple[tuple[Network, str], ...] = (
    (_net("0.0.0.0/8"), "this-network"),
    (_net("10.0.0.0/8"), "private"),
    (_net("100.64.0.0/10"), "carrier-grade NAT"),
    (_net("127.0.0.0/8"), "loopback"),
    (_net("169.254.0.0/16"), "link-local"),
    (_net("172.16.0.0/12"), "private"),
    (_net("192.0.0.0/24"), "IETF protocol assignments"),
    (_net("192.0.2.0/24"), "documentation"),
    (_net("192.88.99.0/24"), "6to4 relay anycast"),
    (_net("192.168.0.0/16"), "private"),
    (_net("198.18.0.0/15"), "benchmarking"),
    (_net("198.51.100.0/24"), "documentation"),
    (_net("203.0.113.0/24"), "documentation"),
    (_net("224.0.0.0/4"), "multicast"),
    (_net("240.0.0.0/4"), "reserved"),
    (_net("::/128"), "unspecified"),
    (_net("::1/128"), "loopback"),
    (_net("::/96"), "IPv4-compatible (deprecated)"),
    (_net("64:ff9b:1::/48"), "local NAT64"),
    (_net("100::/64"), "discard-only"),
    (_net("2001::/23"), "IETF protocol assignments"),
    (_net("2001:db8::/32"), "documentation"),
    (_net("fc00::/7"), "unique local (private)"),
    (_net("fe80::/10"), "link-local"),
    (_net("fec0::/10"), "site-local (deprecated)"),
    (_net("ff00::/8"), "multicast"),
)
"""Networks a URL check never reaches unless the operator allows them."""

METADATA_ADDRESSES: frozenset[Address] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
"""Cloud instance metadata services (credentials live there): refused even inside an allowed
network, unless the operator names the address itself."""

# IPv6 forms that carry an IPv4 address: the IPv4 address is what the packet finally reaches.
_NAT64 = _net("64:ff9b::/96")
_6TO4 = _net("2002::/16")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


class AddressPolicy:
    """Decides whether an address may be fetched from; ``allow`` lists operator exceptions."""

    def __init__(self, allow: Sequence[Network] = ()) -> None:
        self.allow = tuple(allow)

    def check(self, address: Address | str) -> None:
        """Return if ``address`` may be reached; raise :class:`BlockedAddressError` if not."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        candidates: list[Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.scope_id:
                raise BlockedAddressError(f"refused to fetch from {ip}: a scoped address")
            inner = _embedded_ipv4(ip)
            if inner is not None:
                # The packet ends at the IPv4 address inside: that is what is checked.
                candidates = [inner]
        for candidate in candidates:
            reason = self._refusal(candidate)
            if reason is not None:
                raise BlockedAddressError(f"refused to fetch from {ip}: {reason} address")

    def _refusal(self, ip: Address) -> str | None:
        if ip in METADATA_ADDRESSES:
            exact = any(n.num_addresses == 1 and ip in n for n in self.allow)
            return None if exact else "cloud metadata"
        if any(ip.version == n.version and ip in n for n in self.allow):
            return None
        for network, reason in BLOCKED_NETWORKS:
            if ip.version == network.version and ip in network:
                return reason
        if not ip.is_global:
            # Anything else the standard library knows as special (new IANA registrations).
            return "non-global"
        return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the system's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"the host {host} could not be resolved: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetched response, held in memory only as long as the caller needs it."""

    url: str
    """The URL finally fetched (after redirects)."""
    address: str
    """The address connected to."""
    status: int
    content_type: str
    body: bytes


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class GuardedFetcher:
    """GETs URLs within the address policy, size and time limits, pinned to checked addresses.

    ``client`` should not follow redirects itself (this class does, checking each hop) and should
    not read proxy settings from the environment; :meth:`make_client` builds such a client.
    """

    def __init__(
        self,
        client: httpx.Client,
        policy: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        max_bytes: int = 16 * 1024 * 1024,
        timeout: float = 15.0,
        max_redirects: int = 5,
        proxied: bool = False,
    ) -> None:
        self.client = client
        self.policy = policy
        self.resolver = resolver
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.proxied = proxied

    @staticmethod
    def make_client(*, proxy: str | None = None, timeout: float = 15.0) -> httpx.Client:
        """An httpx client fit for guarded fetches (no redirects, no environment proxies)."""
        return httpx.Client(
            proxy=proxy,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "Kavach-URL-check/1 (+takedown; hashes only)"},
        )

    def resolve(self, host: str, port: int) -> str:
        """Check every address ``host`` resolves to; return the one to connect to."""
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            self.policy.check(literal)
            return str(literal)
        addresses = list(self.resolver(host, port))
        if not addresses:
            raise FetchError(f"the host {host} has no addresses")
        # Every answer is checked, not only the first: a name answering with one public and one
        # private address is refused rather than trusted to be connected the "right" way.
        for address in addresses:
            self.policy.check(address)
        return addresses[0]

    def fetch(self, url: str, *, accept: Callable[[str], bool] | None = None) -> FetchResult:
        """GET ``url`` following up to ``max_redirects`` redirects, each hop checked and pinned.

        ``accept(content_type)`` decides, from the headers, whether the body is worth reading;
        a refused type raises :class:`FetchError` before the body is read.
        """
        deadline = time.monotonic() + self.timeout
        current = url
        for _hop in range(self.max_redirects + 1):
            result = self._hop(current, deadline, accept)
            if isinstance(result, FetchResult):
                return result
            current = result
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _hop(
        self, url: str, deadline: float, accept: Callable[[str], bool] | None
    ) -> FetchResult | str:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"only http and https can be fetched, not {scheme or 'this'}")
        host = parts.hostname
        if not host:
            raise FetchError("the URL has no host")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError("the URL has a bad port") from None
        address = self.resolve(host, port)
        target, headers, extensions = self._pinned(parts, scheme, host, port, address)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("the URL check ran out of time")
        try:
            with self.client.stream(
                "GET",
                target,
                headers=headers,
                extensions={**extensions, "timeout": _timeouts(remaining)},
            ) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    return urljoin(url, response.headers["location"])
                content_type = response.headers.get("content-type", "").split(";")[0]
                content_type = content_type.strip().lower()
                if response.status_code >= 400:
                    return FetchResult(url, address, response.status_code, content_type, b"")
                if accept is not None and not accept(content_type):
                    raise ContentTypeError(
                        f"content type {content_type or 'unknown'} is not checked"
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"the response is larger than {self.max_bytes:,} bytes")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"the response is larger than {self.max_bytes:,} bytes")
                    if time.monotonic() > deadline:
                        raise FetchError("the URL check ran out of time")
                    chunks.append(chunk)
                return FetchResult(
                    url, address, response.status_code, content_type, b"".join(chunks)
                )
        except httpx.HTTPError as exc:
            raise FetchError(f"fetching {host} failed: {type(exc).__name__}: {exc}") from None

    def _pinned(
        self, split: SplitResult, scheme: str, host: str, port: int, address: str
    ) -> tuple[str, dict[str, str], dict[str, object]]:
        default = 443 if scheme == "https" else 80
        host_header = host if port == default else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port == default else f"[{host}]:{port}"
        if self.proxied and scheme == "https":
            # An HTTPS tunnel through a proxy is opened by name (see the module docstring).
            return urlunsplit(split), {}, {}
        netloc = f"[{address}]" if ":" in address else address
        target = urlunsplit((scheme, f"{netloc}:{port}", split.path or "/", split.query, ""))
        extensions: dict[str, object] = {}
        if scheme == "https":
            extensions["sni_hostname"] = host
        return target, {"Host": host_header}, extensions


def _timeouts(remaining: float) -> dict[str, float]:
    return {
        "connect": min(remaining, 10.0),
        "read": remaining,
        "write": remaining,
        "pool": remaining,
    }
