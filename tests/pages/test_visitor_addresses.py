"""Which address a visitor's requests count against: X-Forwarded-For read only as far as the
configured proxies, IPv6 visitors by their /64."""

import pytest

from tests.hostile_inputs import SPOOFED_FORWARDS
from ui.core import jobs
from ui.core.addresses import TRUSTED_PROXIES_ENV, TrustedProxies, trusted_proxies, visitor_key

NONE = TrustedProxies()
ONE_HOP = TrustedProxies(hops=1)


def test_without_a_proxy_setting_a_room_peer_cannot_claim_another_address():
    # every peer on a room's Wi-Fi is private: the header is still the visitor's own say
    assert visitor_key("192.168.1.23", "203.0.113.9", NONE) == "192.168.1.23"
    assert visitor_key("192.168.1.23", "10.0.0.1, 203.0.113.9", NONE) == "192.168.1.23"
    assert visitor_key("127.0.0.1", "8.8.8.8", NONE) == "127.0.0.1"
    assert visitor_key("203.0.113.7", None, NONE) == "203.0.113.7"


def test_one_hop_counts_the_entry_the_proxy_appended_not_the_clients_own():
    assert visitor_key("10.16.3.80", "203.0.113.9", ONE_HOP) == "203.0.113.9"
    # a visitor sending their own header: the proxy appends the address it saw, and that counts
    assert visitor_key("10.16.3.80", "1.2.3.4, 203.0.113.9", ONE_HOP) == "203.0.113.9"
    assert visitor_key("10.16.3.80", "1.2.3.4, 198.51.100.2, 203.0.113.9", TrustedProxies(hops=2)) == "198.51.100.2"
    # no header (a request that did not come through the proxy), or garbage where the proxy's entry is
    assert visitor_key("10.16.3.80", "", ONE_HOP) == "10.16.3.80"
    assert visitor_key("10.16.3.80", "not-an-address", ONE_HOP) == "10.16.3.80"
    assert visitor_key("10.16.3.80", "203.0.113.9", TrustedProxies(hops=2)) == "10.16.3.80"


def test_listed_proxies_are_trusted_only_when_they_are_the_peer():
    proxies = trusted_proxies("10.0.0.0/8, 192.168.1.5")
    assert visitor_key("10.1.2.3", "203.0.113.9", proxies) == "203.0.113.9"
    # a chain of trusted proxies is walked from the right to the first address that is not one
    assert visitor_key("10.1.2.3", "1.2.3.4, 203.0.113.9, 192.168.1.5, 10.9.9.9", proxies) == "203.0.113.9"
    # the same header from a peer that is not a listed proxy is ignored
    assert visitor_key("192.168.1.77", "203.0.113.9", proxies) == "192.168.1.77"


def test_ipv6_visitors_count_by_their_64_and_mapped_ipv4_as_ipv4():
    a = visitor_key("2001:db8:1:2:aaaa::1", None, NONE)
    b = visitor_key("2001:db8:1:2:ffff:1:2:3", None, NONE)
    c = visitor_key("2001:db8:1:3::1", None, NONE)
    assert a == b == "2001:db8:1:2::/64" and c != a
    assert visitor_key("10.16.3.80", "2001:db8:1:2::99", ONE_HOP) == "2001:db8:1:2::/64"
    assert visitor_key("::ffff:203.0.113.9", None, NONE) == "203.0.113.9"
    assert visitor_key("fe80::1%eth0", None, NONE) == "fe80::/64"


def test_the_setting_is_a_number_or_addresses_and_anything_else_stops_the_start():
    assert trusted_proxies("") == NONE and trusted_proxies("0") == NONE
    assert trusted_proxies("1") == ONE_HOP
    assert len(trusted_proxies("10.0.0.0/8,::1").networks) == 2
    with pytest.raises(ValueError, match="DASHBOARD_TRUSTED_PROXIES"):
        trusted_proxies("yes please")
    assert visitor_key(None, "203.0.113.9", ONE_HOP) == "203.0.113.9"
    assert visitor_key(None, None, NONE) is None


class _Context:
    def __init__(self, peer: str, header: str) -> None:
        self.ip_address, self.headers = peer, {"X-Forwarded-For": header}


@pytest.mark.parametrize("name", SPOOFED_FORWARDS)
def test_a_spoofed_header_from_a_private_peer_counts_as_the_peer(name, monkeypatch):
    """The corpus's spoofed headers through the pages' own `client_address`: without a proxy
    setting each counts as the direct peer; behind one trusted hop, as the entry that proxy
    appended (the last), never an earlier one the visitor wrote."""
    peer, header, behind_one_hop = SPOOFED_FORWARDS[name]
    for n in range(5):  # the same visitor sending a different header each time
        monkeypatch.setattr(jobs.st, "context", _Context(peer, header.replace("%d", str(n))))
        monkeypatch.delenv(TRUSTED_PROXIES_ENV, raising=False)
        assert jobs.client_address() == visitor_key(peer, None, NONE)
        monkeypatch.setenv(TRUSTED_PROXIES_ENV, "1")
        assert jobs.client_address() == behind_one_hop
