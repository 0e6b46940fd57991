"""The data-plane interface the runtime drives, and the tunnel handle it gets back.

Tunnelling (RFC 5944 §4.1: IP-in-IP, RFC 2003, mandatory; minimal encapsulation, RFC 2004,
and GRE, RFC 2784, optional), HA interception by host route + proxy/gratuitous ARP
(RFC 5944 §4.2.3, §4.6), FA visitor delivery by host route with a static neighbour entry
(§4.2.2), and reverse tunnelling by source-based policy routing (RFC 3024 §5.1), including a
co-located mobile node's datagrams sent before their source is chosen (RFC 5944 §3.6).

Two backends implement :class:`Dataplane`: ``kernel`` (ipip/gre devices) and ``userspace``
(one TUN device plus raw sockets); :func:`mipd.dataplane.open_dataplane` picks one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

#: encapsulation name -> IP protocol number of the outer header
ENCAP_PROTOCOLS: dict[str, int] = {"ipip": 4, "gre": 47, "minimal": 55}

#: bytes added to the inner datagram (minimal: 12 with the original source, 8 without)
ENCAP_OVERHEAD: dict[str, int] = {"ipip": 20, "gre": 24, "minimal": 12}

#: counters every backend reports (``counters()`` may add more, never fewer)
COUNTER_NAMES: tuple[str, ...] = (
    "encap_packets",        # inner datagrams sent into a tunnel (after any fragmentation: 1)
    "encap_bytes",          # their inner bytes
    "decap_packets",        # inner datagrams delivered out of a tunnel
    "decap_bytes",
    "fragmented",           # datagrams fragmented to fit the tunnel (RFC 2003 §5.1)
    "icmp_frag_needed_sent",  # ICMP 3/4 returned to senders of DF datagrams (RFC 2003 §5.1)
    "pmtu_updates",         # tunnel MTU soft state lowered by an ICMP 3/4 from within the tunnel
    "dropped",              # total of all dropped_* below
)


class DataplaneError(Exception):
    """A data-plane operation failed (bad argument, or the kernel refused)."""


class UnsupportedEncapsulation(DataplaneError):
    """The backend cannot carry this encapsulation (e.g. minimal encapsulation in the kernel)."""


@dataclass(eq=False)
class Tunnel:
    """A tunnel between two endpoints, as handed to the runtime.

    ``mtu`` is the tunnel MTU in the sense of RFC 2003 §5.1: the largest *outer* datagram the
    path between the endpoints carries; ``pmtu`` is its current soft state (lowered by ICMP
    Fragmentation Needed from inside the tunnel). The largest inner datagram is
    ``pmtu - overhead``. Handles are compared by identity; ``add_tunnel`` returns the same
    handle for the same (local, remote, encap) and counts references.
    """

    local: str
    remote: str
    encap: str
    mtu: int
    ifname: str
    refs: int = 1
    pmtu: int = 0
    forward_dests: set[str] = field(default_factory=set)   # route_via_tunnel destinations
    reverse_sources: set[str] = field(default_factory=set)  # reverse_tunnel sources

    def __post_init__(self) -> None:
        if not self.pmtu:
            self.pmtu = self.mtu

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.local, self.remote, self.encap)

    @property
    def proto(self) -> int:
        return ENCAP_PROTOCOLS[self.encap]

    @property
    def overhead(self) -> int:
        return ENCAP_OVERHEAD[self.encap]


@runtime_checkable
class Dataplane(Protocol):
    """What the runtime needs from a data plane (see the module docstring for the RFCs).

    ``copies``: whether one destination can be routed into several tunnels at once, each
    getting a separate copy of every datagram (simultaneous bindings, RFC 5944 §3.6.1.2,
    §4.2.3); ``route_via_tunnel(..., add=True)`` needs it.
    """

    name: str
    copies: bool

    def add_tunnel(self, local: str, remote: str, encap: str, mtu: int | None = None) -> Tunnel: ...
    def remove_tunnel(self, tunnel: Tunnel) -> None: ...
    def route_via_tunnel(self, dest: str, tunnel: Tunnel, add: bool = False) -> None: ...
    def unroute_via_tunnel(self, dest: str, tunnel: Tunnel | None = None) -> None: ...
    def reverse_tunnel(self, source: str, tunnel: Tunnel, iif: str | None = None) -> None: ...
    def unreverse_tunnel(self, source: str) -> None: ...
    def route_unbound_via_tunnel(self, source: str, tunnel: Tunnel, bypass: tuple[str, ...] = ()) -> None: ...
    def unroute_unbound(self, source: str) -> None: ...
    def add_host_route(self, dest: str, dev: str, lladdr: str | None = None) -> None: ...
    def del_host_route(self, dest: str, dev: str) -> None: ...
    def proxy_arp(self, address: str, dev: str, on: bool) -> None: ...
    def gratuitous_arp(self, address: str, dev: str, lladdr: str | None = None) -> None: ...
    def counters(self) -> dict[str, int]: ...
    def tunnels(self) -> list[Tunnel]: ...
    def readers(self) -> list[tuple[int, Callable[[], None]]]: ...
    def attach(self, loop: asyncio.AbstractEventLoop) -> None: ...
    def detach(self) -> None: ...
    def close(self) -> None: ...
