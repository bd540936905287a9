"""Which address a visitor's requests count against (pure: no Streamlit).

The per-address limits (jobs, exports, short links) need the visitor's own address. The direct
peer is that address unless a reverse proxy stands in front of the app; then the proxy's
`X-Forwarded-For` entry says who it forwarded. The header is the client's own say until a
proxy the operator configured appended to it, so it is read only as far as the setting trusts:

- `DASHBOARD_TRUSTED_PROXIES` unset, empty or `0` (a laptop in a room; the default): the header
  is ignored, the direct peer is the visitor, whatever it sends;
- a number N of proxy hops (the Space image sets 1: one reverse proxy in front of the container,
  which appends the address it saw): the Nth entry from the right; a header shorter than that
  did not come through the proxies, and the direct peer counts instead;
- a comma-separated list of proxy addresses or networks (`10.0.0.0/8,192.168.1.5`): only when
  the direct peer is one of them, the rightmost entry that is not one of them.

IPv6 visitors count by their /64 network (one household or phone gets a whole /64, so a single
visitor could otherwise appear as millions of addresses); IPv4-mapped IPv6 addresses count as
the IPv4 address.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

TRUSTED_PROXIES_ENV = "DASHBOARD_TRUSTED_PROXIES"
IPV6_PREFIX = 64

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    hops: int = 0  # how many proxies stand in front of the app (0: none trusted)
    networks: tuple[Network, ...] = ()  # or: which peers are proxies

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def trusted_proxies(raw: str | None = None) -> TrustedProxies:
    """The setting's value (the environment's when `raw` is None). A value that is neither a
    number nor a list of addresses raises `ValueError` naming the setting: start-up fails
    loudly instead of trusting the wrong thing."""
    raw = (os.environ.get(TRUSTED_PROXIES_ENV, "") if raw is None else raw).strip()
    if not raw:
        return TrustedProxies()
    if raw.isdigit():
        return TrustedProxies(hops=int(raw))
    try:
        networks = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{TRUSTED_PROXIES_ENV}={raw[:80]!r}: give a number of proxy hops (such as 1) "
                         "or proxy addresses and networks separated by commas (such as 10.0.0.0/8)") from None
    return TrustedProxies(networks=networks)


def _parsed(text: str | None) -> Address | None:
    if not text:
        return None
    text = text.strip().strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def grouped(address: Address) -> str:
    """The key an address counts under: an IPv4 address itself, an IPv6 address's /64."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def visitor_key(direct: str | None, forwarded: str | None, proxies: TrustedProxies) -> str | None:
    """The key the visitor's requests count under, from the direct peer's address and the
    `X-Forwarded-For` header as received; None when there is no address at all (a script)."""
    peer = _parsed(direct)
    entries = [e.strip() for e in (forwarded or "").split(",") if e.strip()]
    chosen = peer
    if proxies.hops and len(entries) >= proxies.hops:
        chosen = _parsed(entries[-proxies.hops]) or peer
    elif proxies.networks and peer is not None and proxies.trusts(peer):
        for entry in reversed(entries):
            found = _parsed(entry)
            if found is None:
                break  # not an address: nothing left of it can be trusted
            chosen = found
            if not proxies.trusts(found):
                break
    if chosen is None:
        return direct[:64] if direct else None
    return grouped(chosen)
