"""The client's address, as the chat channels pass it on (the website channel's `_source`, which the
back office's per-source limits count): the TCP peer, unless the peer is a proxy we trust.

`TRUSTED_PROXIES` (the back office reads the same setting) lists the proxies in front of Rasa:
addresses or networks (CIDR), comma-separated; empty (the default) trusts none. Only when the TCP
peer is one of them is a forwarding header read, and then from the right: each hop the proxies
added is taken while the hop that added it is trusted, so the address is the first one no trusted
proxy vouches for. What a client writes into the header itself sits left of that and is never
taken. `X-Forwarded-For` is read (nginx, HAProxy, cloud load balancers write it), `Forwarded`
(RFC 7239) only when there is no `X-Forwarded-For`: a proxy that writes only `Forwarded` must drop
a client's `X-Forwarded-For`. Without a trusted peer both headers are ignored, so a client cannot
choose its own address, or another's. (Sanic's own `remote_addr` follows SANIC_PROXIES_COUNT and
SANIC_REAL_IP_HEADER from any peer: the channels do not use it.)
"""
from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_HEADER_CHARS = 2048  # of the forwarding headers read, together
MAX_HOPS = 16  # proxies in a row we follow
FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def trusted_proxies(setting: str | None) -> tuple[IPNetwork, ...]:
    """The networks of `TRUSTED_PROXIES`; a ValueError naming the entry that is not an address or network."""
    networks = []
    for entry in (setting or "").replace(" ", ",").split(","):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


TRUSTED_PROXIES = trusted_proxies(os.environ.get("TRUSTED_PROXIES"))


def _address(value: str) -> IPAddress | None:
    """An address as a hop names it (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`, an IPv4-mapped IPv6
    address as IPv4); None for `unknown`, an obfuscated name (`_proxy1`) or anything else."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hops(forwarded_for: str | None, forwarded: str | None) -> list[str]:
    """The addresses the proxies forwarded, oldest (the client's claim) first; of a long header only its
    right end (the proxies' part), without the hop cut in two."""
    header = forwarded_for or forwarded or ""
    cut = len(header) > MAX_HEADER_CHARS
    header = header[-MAX_HEADER_CHARS:]
    hops = header.split(",") if forwarded_for else FORWARDED_FOR.findall(header)
    return hops[1:] if cut else hops


def client_address(peer: str, forwarded_for: str | None = None, forwarded: str | None = None,
                   trusted: Iterable[IPNetwork] | None = None) -> str:
    """The client's address: `peer` (the TCP peer) unless it is a trusted proxy, then the first hop
    from the right of the forwarding header that no trusted proxy is; the last trusted one when the
    chain ends in a value that is not an address."""
    networks = tuple(TRUSTED_PROXIES if trusted is None else trusted)
    current = _address(peer)
    if current is None or not networks:
        return peer
    for hop in reversed(_hops(forwarded_for, forwarded)[-MAX_HOPS:]):
        if not any(current in network for network in networks):
            break
        previous = _address(hop)
        if previous is None:
            break
        current = previous
    return str(current)
