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

    def __init__(self, dataplane: Any, host: Any = None) -> None:
        self.dp = dataplane
        self.host = host
        self._tunnels: dict[tuple[str, str, str], Tunnel] = {}
        self.handlers = {
            AddTunnel: self.add_tunnel,
            RemoveTunnel: self.remove_tunnel,
            AddTunnelRoute: self.add_tunnel_route,
            RemoveTunnelRoute: self.remove_tunnel_route,
            AddReverseTunnel: self.add_reverse_tunnel,
            RemoveReverseTunnel: lambda act: dataplane.unreverse_tunnel(act.source),
            AddUnboundRoute: lambda act: dataplane.route_unbound_via_tunnel(
                act.source, self._tunnel(act.local, act.remote, act.encap), act.bypass),
            RemoveUnboundRoute: lambda act: dataplane.unroute_unbound(act.source),
            AddHostRoute: lambda act: dataplane.add_host_route(act.dest, act.interface, act.lladdr),
            RemoveHostRoute: lambda act: dataplane.del_host_route(act.dest, act.interface),
            SetProxyArp: lambda act: dataplane.proxy_arp(act.address, act.interface, act.enable),
            SendGratuitousArp: lambda act: dataplane.gratuitous_arp(act.address, act.interface, act.lladdr),
            SetDefaultRoute: lambda act: self._host().set_default_route(act.gateway, act.interface, act.source),
            SetArpReplies: lambda act: self._host().arp_replies(act.address, act.interface, act.enable),
        }

    def _host(self) -> Any:
        if self.host is None:
            raise DataplaneError("no mobile-node host routing in this role")
        return self.host

    def _tunnel(self, local: str, remote: str, encap: str) -> Tunnel:
        tunnel = self._tunnels.get((local, remote, encap))
        if tunnel is None:
            raise DataplaneError(f"no tunnel {local} -> {remote} ({encap}) was added")
        return tunnel

    def add_tunnel(self, action: AddTunnel) -> None:
        key = (action.local, action.remote, action.encap)
        self._tunnels[key] = self.dp.add_tunnel(*key)

    def remove_tunnel(self, action: RemoveTunnel) -> None:
        key = (action.local, action.remote, action.encap)
        tunnel = self._tunnel(*key)
        self.dp.remove_tunnel(tunnel)
        if tunnel.refs <= 0:
            del self._tunnels[key]

    @property
    def copies(self) -> bool:
        """Can the data plane tunnel a copy of each datagram to each of several care-of addresses
        (simultaneous bindings, RFC 5944 §3.6.1.2, §4.2.3)? The home agent is told, so that it
        grants simultaneous bindings only where they are carried out."""
        return bool(getattr(self.dp, "copies", False))

    def add_tunnel_route(self, action: AddTunnelRoute) -> None:
        tunnel = self._tunnel(action.local, action.remote, action.encap)
        self.dp.route_via_tunnel(action.dest, tunnel, add=not action.exclusive)

    def remove_tunnel_route(self, action: RemoveTunnelRoute) -> None:
        """All of `dest`'s tunnels, or only the one named (one simultaneous binding gone, §4.2.3)."""
        if action.remote is None or action.local is None or action.encap is None:
            self.dp.unroute_via_tunnel(action.dest)
            return
        tunnel = self._tunnels.get((action.local, action.remote, action.encap))
        if tunnel is not None:  # else the route went with the tunnel
            self.dp.unroute_via_tunnel(action.dest, tunnel)

    def add_reverse_tunnel(self, action: AddReverseTunnel) -> None:
        if action.delivery != "direct":
            log.warning("reverse tunnel for %s: %s delivery style is handled as direct delivery (RFC 3024 §5.1)",
                        action.source, action.delivery)
        self.dp.reverse_tunnel(action.source, self._tunnel(action.local, action.remote, action.encap), action.interface)

    def tunnels(self) -> int:
        return len(self._tunnels)

    def close(self) -> None:
        if self.host is not None:
            self.host.close()
        self.dp.detach()
        self.dp.close()
