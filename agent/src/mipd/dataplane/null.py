"""`dataplane: {backend: none}`: signalling only, nothing installed.

For tests and benchmarks of the control plane (registration processing, persistence, control
socket) where no traffic is carried. It implements `mipd.dataplane.base.Dataplane` with
reference-counted tunnel handles and tracked routes, and installs nothing, so `mipctl counters`
shows what a real data plane would have been asked to do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from mipd.dataplane.base import Tunnel


class NullDataplane:
    """The Dataplane interface with no effect on the host."""

    name = "none"
    copies = True  # it carries nothing, so it can pretend to copy (RFC 5944 §4.2.3) as well as to route

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._tunnels: dict[tuple[str, str, str], Tunnel] = {}
        self.routes: dict[str, list[Tunnel]] = {}  # dest -> its tunnels, newest last
        self.reverse: dict[str, Tunnel] = {}
        self.unbound: str | None = None  # the source of route_unbound_via_tunnel
        self.host_routes: dict[str, str] = {}
        self.proxies: set[tuple[str, str]] = set()

    def add_tunnel(self, local: str, remote: str, encap: str, mtu: int | None = None) -> Tunnel:
        self.calls["add_tunnel"] += 1
        t = self._tunnels.get((local, remote, encap))
        if t is not None:
            t.refs += 1
            return t
        t = self._tunnels[(local, remote, encap)] = Tunnel(local, remote, encap, mtu or 1500, "none")
        return t

    def remove_tunnel(self, tunnel: Tunnel) -> None:
        self.calls["remove_tunnel"] += 1
        tunnel.refs -= 1
        if tunnel.refs <= 0:
            self._tunnels.pop(tunnel.key, None)

    def route_via_tunnel(self, dest: str, tunnel: Tunnel, add: bool = False) -> None:
        self.calls["route_via_tunnel"] += 1
        routes = self.routes.get(dest)
        if routes is None:
            self.routes[dest] = [tunnel]
        else:  # in place: a moved node's route makes no new long-lived object
            routes[:] = [*(t for t in routes if t is not tunnel), tunnel] if add else [tunnel]

    def unroute_via_tunnel(self, dest: str, tunnel: Tunnel | None = None) -> None:
        self.calls["unroute_via_tunnel"] += 1
        left = [t for t in self.routes.get(dest, []) if tunnel is not None and t is not tunnel]
        if left:
            self.routes[dest] = left
        else:
            self.routes.pop(dest, None)

    def reverse_tunnel(self, source: str, tunnel: Tunnel, iif: str | None = None) -> None:
        self.calls["reverse_tunnel"] += 1
        self.reverse[source] = tunnel

    def unreverse_tunnel(self, source: str) -> None:
        self.calls["unreverse_tunnel"] += 1
        self.reverse.pop(source, None)

    def route_unbound_via_tunnel(self, source: str, tunnel: Tunnel, bypass: tuple[str, ...] = ()) -> None:
        self.calls["route_unbound_via_tunnel"] += 1
        self.unbound = source

    def unroute_unbound(self, source: str) -> None:
        self.calls["unroute_unbound"] += 1
        if self.unbound == source:
            self.unbound = None

    def add_host_route(self, dest: str, dev: str, lladdr: str | None = None) -> None:
        self.calls["add_host_route"] += 1
        self.host_routes[dest] = dev

    def del_host_route(self, dest: str, dev: str) -> None:
        self.calls["del_host_route"] += 1
        self.host_routes.pop(dest, None)

    def proxy_arp(self, address: str, dev: str, on: bool) -> None:
        self.calls["proxy_arp"] += 1
        (self.proxies.add if on else self.proxies.discard)((address, dev))

    def gratuitous_arp(self, address: str, dev: str, lladdr: str | None = None) -> None:
        self.calls["gratuitous_arp"] += 1

    # the mobile node's host routing (mipd.dataplane.host.MobileHost), equally inert
    def set_default_route(self, gateway: str | None, interface: str | None, source: str | None = None) -> None:
        self.calls["set_default_route"] += 1

    def arp_replies(self, address: str, interface: str, enable: bool) -> None:
        self.calls["arp_replies"] += 1

    def counters(self) -> dict[str, int]:
        out = {f"calls.{k}": v for k, v in sorted(self.calls.items())}
        out.update(tunnels=len(self._tunnels), routes=len(self.routes), reverse_tunnels=len(self.reverse),
                   host_routes=len(self.host_routes), proxy_arp=len(self.proxies))
        return out

    def tunnels(self) -> list[Tunnel]:
        return list(self._tunnels.values())

    def readers(self) -> list[tuple[int, Callable[[], None]]]:
        return []

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def detach(self) -> None:
        pass

    def close(self) -> None:
        self._tunnels.clear()
        self.routes.clear()
        self.reverse.clear()
        self.unbound = None
        self.host_routes.clear()
        self.proxies.clear()
