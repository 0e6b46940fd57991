"""Data-plane actions -> calls on the Dataplane (mipd.dataplane.base) and the mobile node's host
routing (mipd.dataplane.host).

The state machines name tunnels by (local, remote, encapsulation) (RFC 5944 §4.1; RFC 3024
§5); the data plane hands out reference-counted `Tunnel` handles. The driver keeps the handle
per name: AddTunnel takes a reference, RemoveTunnel drops one, and routes into a tunnel
(§4.2.3 home agent interception, RFC 3024 §5.1 reverse tunnels, a co-located node's unbound
datagrams, RFC 5944 §3.6) use the handle.
"""

from __future__ import annotations

import logging
from typing import Any

from mipd.dataplane.base import DataplaneError, Tunnel
from mipd.protocol.actions import (
    AddHostRoute,
    AddReverseTunnel,
    AddTunnel,
    AddTunnelRoute,
    AddUnboundRoute,
    RemoveHostRoute,
    RemoveReverseTunnel,
    RemoveTunnel,
    RemoveTunnelRoute,
    RemoveUnboundRoute,
    SendGratuitousArp,
    SetArpReplies,
    SetDefaultRoute,
    SetProxyArp,
)

log = logging.getLogger("mipd.dataplane")


class Driver:
    """Executes data-plane actions on `dp` (and `host`, for a mobile node)."""

    def __init__(self, dp: Any, host: Any = None) -> None:
        self.dp = dp
        self.host = host
        self._tunnels: dict[tuple[str, str, str], Tunnel] = {}
        self.handlers = {
            AddTunnel: self.add_tunnel,
            RemoveTunnel: self.remove_tunnel,
            AddTunnelRoute: self.add_tunnel_route,
            RemoveTunnelRoute: self.remove_tunnel_route,
            AddReverseTunnel: self.add_reverse_tunnel,
            RemoveReverseTunnel: lambda a: dp.unreverse_tunnel(a.source),
            AddUnboundRoute: lambda a: dp.route_unbound_via_tunnel(
                a.source, self._tunnel(a.local, a.remote, a.encap), a.bypass),
            RemoveUnboundRoute: lambda a: dp.unroute_unbound(a.source),
            AddHostRoute: lambda a: dp.add_host_route(a.dest, a.interface, a.lladdr),
            RemoveHostRoute: lambda a: dp.del_host_route(a.dest, a.interface),
            SetProxyArp: lambda a: dp.proxy_arp(a.address, a.interface, a.enable),
            SendGratuitousArp: lambda a: dp.gratuitous_arp(a.address, a.interface, a.lladdr),
            SetDefaultRoute: lambda a: self._host().set_default_route(a.gateway, a.interface, a.source),
            SetArpReplies: lambda a: self._host().arp_replies(a.address, a.interface, a.enable),
        }

    def _host(self) -> Any:
        if self.host is None:
            raise DataplaneError("no mobile-node host routing in this role")
        return self.host

    def _tunnel(self, local: str, remote: str, encap: str) -> Tunnel:
        t = self._tunnels.get((local, remote, encap))
        if t is None:
            raise DataplaneError(f"no tunnel {local} -> {remote} ({encap}) was added")
        return t

    def add_tunnel(self, a: AddTunnel) -> None:
        self._tunnels[(a.local, a.remote, a.encap)] = self.dp.add_tunnel(a.local, a.remote, a.encap)

    def remove_tunnel(self, a: RemoveTunnel) -> None:
        key = (a.local, a.remote, a.encap)
        t = self._tunnel(*key)
        self.dp.remove_tunnel(t)
        if t.refs <= 0:
            del self._tunnels[key]

    @property
    def copies(self) -> bool:
        """Can the data plane tunnel a copy of each datagram to each of several care-of addresses
        (simultaneous bindings, RFC 5944 §3.6.1.2, §4.2.3)? The home agent is told, so that it
        grants simultaneous bindings only where they are carried out."""
        return bool(getattr(self.dp, "copies", False))

    def add_tunnel_route(self, a: AddTunnelRoute) -> None:
        self.dp.route_via_tunnel(a.dest, self._tunnel(a.local, a.remote, a.encap), add=not a.exclusive)

    def remove_tunnel_route(self, a: RemoveTunnelRoute) -> None:
        """All of `dest`'s tunnels, or only the one named (one simultaneous binding gone, §4.2.3)."""
        if a.remote is None or a.local is None or a.encap is None:
            self.dp.unroute_via_tunnel(a.dest)
            return
        tunnel = self._tunnels.get((a.local, a.remote, a.encap))
        if tunnel is not None:  # else the route went with the tunnel
            self.dp.unroute_via_tunnel(a.dest, tunnel)

    def add_reverse_tunnel(self, a: AddReverseTunnel) -> None:
        if a.delivery != "direct":
            log.warning("reverse tunnel for %s: %s delivery style is handled as direct delivery (RFC 3024 §5.1)",
                        a.source, a.delivery)
        self.dp.reverse_tunnel(a.source, self._tunnel(a.local, a.remote, a.encap), a.interface)

    def tunnels(self) -> int:
        return len(self._tunnels)

    def close(self) -> None:
        if self.host is not None:
            self.host.close()
        self.dp.detach()
        self.dp.close()
