"""SSRF guard: every refused range, redirects into private space, DNS answers that change."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from kavach.takedown.errors import BlockedAddressError, FetchError
from kavach.takedown.guard import AddressPolicy, GuardedFetcher
from tests.takedown.helpers import SimulatedHost, simulated_host

REFUSED = [
    ("0.0.0.1", "this-network"),
    ("10.1.2.3", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("172.16.5.5", "private"),
    ("192.0.0.192", "cloud metadata"),
    ("192.0.2.10", "documentation"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a00:1", "private"),
    ("2002:c0a8:101::1", "private"),
    ("fc00::1", "unique local"),
    ("fd00:ec2::254", "cloud metadata"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_ranges(address: str, reason: str) -> None:
    with pytest.raises(BlockedAddressError, match=reason):
        AddressPolicy().check(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    AddressPolicy().check(address)


def test_allowed_networks_and_metadata_need_naming() -> None:
    policy = AddressPolicy(
        [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("169.254.0.0/16")]
    )
    policy.check("127.0.0.2")
    policy.check("::ffff:127.0.0.1")
    with pytest.raises(BlockedAddressError, match="cloud metadata"):
        policy.check("169.254.169.254")
    AddressPolicy([ipaddress.ip_network("169.254.169.254/32")]).check("169.254.169.254")


class CountingResolver:
    """A DNS whose answers are scripted per call (to simulate rebinding)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture(scope="module")
def host() -> Iterator[SimulatedHost]:
    with simulated_host("127.0.0.1") as served:
        served.routes["/pic.jpg"] = ("image/jpeg", b"\xff\xd8\xff" + b"x" * 100)
        served.routes["/big.jpg"] = ("image/jpeg", b"y" * 5000)
        served.routes["/page.txt"] = ("text/plain", b"hello")
        served.redirects["/to-private"] = "http://inside.test/secret"
        served.redirects["/to-metadata"] = "http://169.254.169.254/latest/meta-data/"
        served.redirects["/to-pic"] = "/pic.jpg"
        yield served


def fetcher(resolver: CountingResolver, *, allow_loopback: bool = True) -> GuardedFetcher:
    allow = [ipaddress.ip_network("127.0.0.0/8")] if allow_loopback else []
    return GuardedFetcher(
        GuardedFetcher.make_client(timeout=5),
        AddressPolicy(allow),
        resolver=resolver,
        max_bytes=1024,
        timeout=5,
    )


def test_loopback_refused_unless_allowed(host: SimulatedHost) -> None:
    guard = fetcher(CountingResolver(["127.0.0.1"]), allow_loopback=False)
    with pytest.raises(BlockedAddressError, match="loopback"):
        guard.fetch(host.url("site.test", "/pic.jpg"))
    with pytest.raises(BlockedAddressError, match="loopback"):
        guard.fetch(f"http://127.0.0.1:{host.port}/pic.jpg")
    assert "/pic.jpg" not in host.hits


def test_redirect_to_private_address_refused(host: SimulatedHost) -> None:
    resolver = CountingResolver(["127.0.0.1"], ["10.0.0.7"])
    with pytest.raises(BlockedAddressError, match="private"):
        fetcher(resolver).fetch(host.url("site.test", "/to-private"))
    assert resolver.calls == ["site.test", "inside.test"]
    with pytest.raises(BlockedAddressError, match="cloud metadata"):
        fetcher(CountingResolver(["127.0.0.1"])).fetch(host.url("site.test", "/to-metadata"))


def test_redirect_within_policy_followed(host: SimulatedHost) -> None:
    result = fetcher(CountingResolver(["127.0.0.1"])).fetch(host.url("site.test", "/to-pic"))
    assert result.url.endswith("/pic.jpg")
    assert result.content_type == "image/jpeg"


def test_dns_answer_change_cannot_move_the_connection(host: SimulatedHost) -> None:
    # The first answer is checked and connected to; a later, private answer is never asked for.
    resolver = CountingResolver(["127.0.0.1"], ["10.0.0.9"])
    result = fetcher(resolver).fetch(host.url("rebind.test", "/pic.jpg"))
    assert result.address == "127.0.0.1"
    assert result.status == 200
    assert resolver.calls == ["rebind.test"]


def test_any_refused_answer_refuses_the_host(host: SimulatedHost) -> None:
    resolver = CountingResolver(["127.0.0.1", "192.168.0.5"])
    with pytest.raises(BlockedAddressError, match="private"):
        fetcher(resolver).fetch(host.url("mixed.test", "/pic.jpg"))


def test_size_and_type_limits(host: SimulatedHost) -> None:
    guard = fetcher(CountingResolver(["127.0.0.1"]))
    with pytest.raises(FetchError, match="larger than"):
        guard.fetch(host.url("site.test", "/big.jpg"))
    with pytest.raises(FetchError, match="not checked"):
        guard.fetch(host.url("site.test", "/page.txt"), accept=lambda t: t.startswith("image/"))
    with pytest.raises(FetchError, match="only http"):
        guard.fetch("file:///etc/passwd")
