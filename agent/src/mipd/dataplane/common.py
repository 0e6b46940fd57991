"""Route, rule, neighbour and ARP bookkeeping shared by the kernel and userspace backends.

- HA (RFC 5944 §4.2.3): ``route_via_tunnel(home address)`` installs ``HoA/32`` into the
  tunnel, which intercepts datagrams for a mobile node away from home. With simultaneous
  bindings (§3.6.1.2) ``route_via_tunnel(..., add=True)`` routes it into several tunnels, each
  to get a copy, where the backend can duplicate (``copies``); the kernel route then leads into
  the newest one. ``proxy_arp`` and
  ``gratuitous_arp`` implement §4.6 (Linux answers ARP for an NTF_PROXY entry only on a
  forwarding interface and only when the route to the address leaves by another device: the
  tunnel route provides exactly that).
- FA (§4.2.2): ``add_host_route(visitor, dev, lladdr)`` installs ``HoA/32 dev visited-link``
  plus a permanent neighbour entry, because the FA "MUST NOT use broadcast ARP for a mobile
  node's MAC address" and its ARP entry "MUST NOT be allowed to expire" before the visitor.
- Reverse tunnelling (RFC 3024 §5.1, direct delivery style; also a colocated MN):
  ``reverse_tunnel(source, tunnel, iif)`` adds ``from SOURCE/32 [iif DEV] lookup TABLE`` at a
  dedicated priority; TABLE routes everything into the tunnel.
- A co-located mobile node's unbound datagrams (RFC 5944 §3.6, RFC 3024 §5.1): such a datagram
  is routed before its source is chosen, so ``from HOME`` never sees it.
  ``route_unbound_via_tunnel(home, tunnel, bypass)`` adds ``from 0.0.0.0/32 iif lo lookup
  UNBOUND_TABLE`` (locally generated, no source yet) at the same priority; UNBOUND_TABLE holds
  ``default dev TUNNEL src HOME`` (the kernel picks the home address, the datagram goes into
  the tunnel) and ``throw`` routes for the tunnel's exit point (its own encapsulated datagrams,
  and the userspace backend's raw socket is unbound too) and the `bypass` prefixes (the visited
  link), which the later rules (``main``) route as before. The main table is not touched: the
  link monitor reads the link's gateway from its default route (mipd.runtime.linkmon).

Everything created is recorded and stamped with the data plane's protocol number, so
``close()`` removes exactly what this instance made and ``Netlink.purge()`` what a killed one
left behind.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections import Counter
from typing import Any

from mipd.dataplane.arp import gratuitous_arp_frame, send_frame
from mipd.dataplane.base import ENCAP_PROTOCOLS, DataplaneError, Tunnel
from mipd.dataplane.netlink import RTPROT_MIPD, Netlink, NetlinkError, mac_to_bytes
from mipd.ipv4 import UNSPECIFIED

log = logging.getLogger("mipd.dataplane")

DEFAULT_TABLE = 434          # reverse-tunnel routing table (the Mobile IP UDP port, RFC 5944 §3.1)
DEFAULT_RULE_PRIORITY = 434  # reverse-tunnel rule priority: ahead of "main" (32766)
UNBOUND_TABLE = 433  # a co-located mobile node's unbound datagrams (below the reverse tables)


def check_ipv4(address: str, what: str = "address") -> bytes:
    """Dotted-quad IPv4 address -> 4 bytes, else DataplaneError."""
    try:
        packed = socket.inet_pton(socket.AF_INET, address)
    except (OSError, TypeError) as exc:
        raise DataplaneError(f"{what} {address!r} is not an IPv4 address") from exc
    return packed


class NetlinkDataplane:
    """The backend-independent half of a data plane; subclasses provide the tunnels."""

    name = "base"
    copies = False  # can a destination be routed into several tunnels, a copy into each (§4.2.3)?

    def __init__(self, *, table: int = DEFAULT_TABLE, rule_priority: int = DEFAULT_RULE_PRIORITY,
                 proto: int = RTPROT_MIPD) -> None:
        if not 0 < rule_priority < 32766:
            raise DataplaneError("rule_priority must be between 1 and 32765 (before 'main')")
        self.table = table
        self.rule_priority = rule_priority
        self.proto = proto
        self._closed = False
        self._nl = Netlink()
        self._tunnels: dict[tuple[str, str, str], Tunnel] = {}
        self._forward: dict[str, list[Tunnel]] = {}  # dest -> its tunnels, newest last
        self._reverse: dict[str, tuple[Tunnel, str | None]] = {}
        self._unbound: tuple[str, Tunnel, tuple[tuple[str, int], ...]] | None = None
        self._host_routes: dict[tuple[str, str], tuple[int, bool]] = {}
        self._proxies: dict[tuple[str, str], int] = {}
        self._visitors: Counter[str] = Counter()  # host-routed dest -> number of devices
        self._endpoints: Counter[str] = Counter()  # local and remote addresses of tunnels
        self._drops: Counter[str] = Counter()

    # -- hooks for the backends ------------------------------------------------------------

    def _create_tunnel(self, local: str, remote: str, encap: str, mtu: int | None) -> Tunnel:
        raise NotImplementedError

    def _destroy_tunnel(self, tunnel: Tunnel) -> None:
        raise NotImplementedError

    def _tunnel_oif(self, tunnel: Tunnel) -> int:
        """Interface index routes into `tunnel` use."""
        raise NotImplementedError

    def _reverse_table(self, tunnel: Tunnel) -> int:
        raise NotImplementedError

    def _reverse_table_used(self, tunnel: Tunnel, used: bool) -> None:
        """Install (used) or remove (not used) the default route of `tunnel`'s reverse table."""
        raise NotImplementedError

    def _forward_changed(self, dest: str, tunnels: tuple[Tunnel, ...]) -> None:
        """`dest` is now routed into `tunnels`, newest last (empty: into no tunnel)."""

    def _reverse_changed(self, source: str, tunnel: Tunnel | None) -> None:
        """Datagrams from `source` now go into `tunnel` (None: no longer reverse-tunnelled)."""

    def _visitor_changed(self, dest: str, present: bool) -> None:
        """`dest` became (or stopped being) a visitor with a host route."""

    # -- tunnels ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DataplaneError(f"{self.name} data plane is closed")

    def _own(self, tunnel: Tunnel) -> Tunnel:
        if self._tunnels.get(tunnel.key) is not tunnel:
            raise DataplaneError(f"tunnel {tunnel.local}->{tunnel.remote} ({tunnel.encap}) "
                                 "is not (or no longer) open on this data plane")
        return tunnel

    def add_tunnel(self, local: str, remote: str, encap: str, mtu: int | None = None) -> Tunnel:
        """Open (or take another reference to) the tunnel `local` -> `remote` with `encap`
        ("ipip", "gre" or "minimal"); `mtu` = tunnel MTU (outer), default the path MTU."""
        self._check_open()
        if encap not in ENCAP_PROTOCOLS:
            raise DataplaneError(f"unknown encapsulation {encap!r} (ipip, gre or minimal)")
        check_ipv4(local, "tunnel local address")
        check_ipv4(remote, "tunnel remote address")
        if mtu is not None and not 68 + 24 <= mtu <= 65535:
            raise DataplaneError(f"tunnel MTU {mtu} out of range")
        key = (local, remote, encap)
        tunnel = self._tunnels.get(key)
        if tunnel is not None:
            tunnel.refs += 1
            if mtu is not None and mtu != tunnel.mtu:
                self._set_mtu(tunnel, mtu)
            return tunnel
        try:
            tunnel = self._create_tunnel(local, remote, encap, mtu)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot create {encap} tunnel {local}->{remote}: {exc}") from exc
        self._tunnels[key] = tunnel
        self._endpoints.update((local, remote))
        log.info("%s: tunnel %s -> %s (%s) mtu %d", self.name, local, remote, encap, tunnel.mtu)
        return tunnel

    def _set_mtu(self, tunnel: Tunnel, mtu: int) -> None:
        tunnel.mtu = tunnel.pmtu = mtu

    def remove_tunnel(self, tunnel: Tunnel) -> None:
        """Drop one reference; the last one also removes routes and rules into the tunnel."""
        self._check_open()
        self._own(tunnel)
        tunnel.refs -= 1
        if tunnel.refs > 0:
            return
        for dest in sorted(tunnel.forward_dests):
            self.unroute_via_tunnel(dest, tunnel)
        for source in sorted(tunnel.reverse_sources):
            self.unreverse_tunnel(source)
        if self._unbound is not None and self._unbound[1] is tunnel:
            self.unroute_unbound(self._unbound[0])
        del self._tunnels[tunnel.key]
        self._endpoints.subtract((tunnel.local, tunnel.remote))
        try:
            self._destroy_tunnel(tunnel)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot remove tunnel {tunnel.key}: {exc}") from exc
        log.info("%s: tunnel %s -> %s (%s) removed", self.name, tunnel.local, tunnel.remote,
                 tunnel.encap)

    def tunnels(self) -> list[Tunnel]:
        return list(self._tunnels.values())

    # -- forward direction (HA: home address -> care-of address) ---------------------------

    def route_via_tunnel(self, dest: str, tunnel: Tunnel, add: bool = False) -> None:
        """Route `dest`/32 into `tunnel`: instead of the tunnels it was routed into, or with
        `add` beside them, each to get a copy of every datagram (simultaneous bindings, RFC 5944
        §4.2.3; only where the backend has ``copies``)."""
        self._check_open()
        self._own(tunnel)
        check_ipv4(dest, "destination")
        if self._endpoints[dest] > 0:
            # the tunnel's own datagrams would be routed back into it (RFC 2003 §3.2)
            raise DataplaneError(f"{dest} is a tunnel endpoint: routing it into a tunnel loops")
        old = self._forward.get(dest, [])
        new = [*(t for t in old if t is not tunnel), tunnel] if add else [tunnel]
        if len(new) > 1 and not self.copies:
            raise DataplaneError(f"the {self.name} data plane cannot tunnel a copy to each of several "
                                 f"care-of addresses (RFC 5944 §4.2.3): {dest} has a tunnel already")
        self._set_forward(dest, old, new)

    def unroute_via_tunnel(self, dest: str, tunnel: Tunnel | None = None) -> None:
        """Stop routing `dest` into `tunnel`, keeping its other tunnels (one of several
        simultaneous bindings gone, RFC 5944 §4.2.3), or into any tunnel (`tunnel` None)."""
        self._check_open()
        old = self._forward.get(dest, [])
        self._set_forward(dest, old, [t for t in old if tunnel is not None and t is not tunnel])

    def _set_forward(self, dest: str, old: list[Tunnel], new: list[Tunnel]) -> None:
        """Route `dest` into the tunnels `new` (newest last; empty: none) instead of `old`."""
        if new == old:
            return
        try:
            if new:
                self._nl.replace_route(dest, 32, oif=self._tunnel_oif(new[-1]), proto=self.proto)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot route {dest} via tunnel: {exc}") from exc
        for t in old:
            t.forward_dests.discard(dest)
        for t in new:
            t.forward_dests.add(dest)
        if new:
            self._forward[dest] = new
        else:
            del self._forward[dest]
        self._forward_changed(dest, tuple(new))
        if not new:
            try:
                self._nl.del_route(dest, 32, oif=self._tunnel_oif(old[-1]))
            except NetlinkError as exc:
                raise DataplaneError(f"cannot remove route {dest}: {exc}") from exc

    # -- reverse direction (RFC 3024: from the mobile node into the tunnel) ----------------

    def reverse_tunnel(self, source: str, tunnel: Tunnel, iif: str | None = None) -> None:
        """Send datagrams from `source` (arriving on `iif`, or any) into `tunnel`.

        For a co-located mobile node (`iif` None) the rule sees the source of locally sent
        datagrams only when the socket's source is known at route lookup: TCP and connected or
        bound UDP; an unbound UDP ``sendto`` is routed before its source is chosen, so the
        node's default route should lead into the tunnel as well.
        """
        self._check_open()
        self._own(tunnel)
        check_ipv4(source, "source")
        if self._endpoints[source] > 0:
            raise DataplaneError(f"{source} is a tunnel endpoint: reverse-tunnelling what it "
                                 "sends would capture the tunnel's own datagrams")
        current = self._reverse.get(source)
        if current is not None and current[0] is tunnel and current[1] == iif:
            return
        if current is not None:
            self.unreverse_tunnel(source)
        try:
            if iif is not None:
                self._nl.index(iif)
            if not tunnel.reverse_sources:
                self._reverse_table_used(tunnel, True)
            self._nl.add_rule(src=source, iifname=iif, table=self._reverse_table(tunnel),
                              priority=self.rule_priority, proto=self.proto)
        except NetlinkError as exc:
            if not tunnel.reverse_sources:
                self._quietly(self._reverse_table_used, tunnel, False)
            raise DataplaneError(f"cannot reverse-tunnel {source}: {exc}") from exc
        self._reverse[source] = (tunnel, iif)
        tunnel.reverse_sources.add(source)
        self._reverse_changed(source, tunnel)

    def unreverse_tunnel(self, source: str) -> None:
        self._check_open()
        entry = self._reverse.pop(source, None)
        if entry is None:
            return
        tunnel, iif = entry
        tunnel.reverse_sources.discard(source)
        self._reverse_changed(source, None)
        try:
            self._nl.del_rule(src=source, iifname=iif, table=self._reverse_table(tunnel),
                              priority=self.rule_priority)
            if not tunnel.reverse_sources:
                self._reverse_table_used(tunnel, False)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot remove reverse tunnel of {source}: {exc}") from exc

    # -- a co-located mobile node's unbound datagrams (RFC 5944 §3.6, RFC 3024 §5.1) ------------

    def route_unbound_via_tunnel(self, source: str, tunnel: Tunnel, bypass: tuple[str, ...] = ()) -> None:
        """Send what this host originates without a chosen source into `tunnel` from `source`.

        RFC 3024 §5.1 with a co-located care-of address (RFC 5944 §3.6): the node's datagrams
        from its home address go through the reverse tunnel. The ``from SOURCE`` rule of
        `reverse_tunnel` catches sockets whose source is known before routing (bound, connected);
        an unbound ``sendto`` is routed with no source and takes it from the route. This adds the
        rule and table of the module docstring: such datagrams get `source` and go into `tunnel`
        (the userspace backend then needs `source` reverse-tunnelled too, to find the tunnel),
        except those to the tunnel's exit point and to the `bypass` prefixes ("a.b.c.d/len").
        One such route per data plane: another call replaces it.
        """
        self._check_open()
        self._own(tunnel)
        check_ipv4(source, "source")
        nets = [(tunnel.remote, 32)]
        for prefix in bypass:
            try:
                net = ipaddress.IPv4Network(prefix, strict=False)
            except ValueError as exc:
                raise DataplaneError(f"bypass prefix {prefix!r}: {exc}") from exc
            nets.append((str(net.network_address), net.prefixlen))
        want = (source, tunnel, tuple(dict.fromkeys(nets)))
        if self._unbound == want:
            return
        if self._unbound is not None:
            self.unroute_unbound(self._unbound[0])
        table = UNBOUND_TABLE
        try:
            for address, length in want[2]:  # the exits first: the tunnel's own datagrams never loop
                self._nl.replace_throw(address, length, table=table, proto=self.proto)
            self._nl.replace_route(UNSPECIFIED, 0, oif=self._tunnel_oif(tunnel), table=table,
                                   proto=self.proto, prefsrc=source)
            # src 0.0.0.0/32: the rule matches lookups whose source is not chosen yet
            self._nl.add_rule(src=UNSPECIFIED, iifname="lo", table=table, priority=self.rule_priority,
                              proto=self.proto)
        except NetlinkError as exc:
            self._unbound = want
            self._quietly(self.unroute_unbound, source)
            raise DataplaneError(f"cannot route unbound datagrams from {source} via tunnel: {exc}") from exc
        self._unbound = want

    def unroute_unbound(self, source: str) -> None:
        """Undo `route_unbound_via_tunnel` for `source` (nothing if it is not routed)."""
        self._check_open()
        if self._unbound is None or self._unbound[0] != source:
            return
        nets = self._unbound[2]
        self._unbound = None
        table = UNBOUND_TABLE
        try:
            self._nl.del_rule(src=UNSPECIFIED, iifname="lo", table=table, priority=self.rule_priority)
            self._nl.del_route(UNSPECIFIED, 0, table=table)
            for address, length in nets:
                self._nl.del_route(address, length, table=table)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot remove the unbound route of {source}: {exc}") from exc

    # -- visitors (FA) -----------------------------------------------------------------------

    def add_host_route(self, dest: str, dev: str, lladdr: str | None = None) -> None:
        """``dest``/32 on link `dev`, with a permanent neighbour entry when `lladdr` is given."""
        self._check_open()
        check_ipv4(dest, "destination")
        try:
            mac = mac_to_bytes(lladdr) if lladdr else None
        except ValueError as exc:
            raise DataplaneError(str(exc)) from exc
        try:
            ifindex = self._nl.index(dev)
            self._nl.replace_route(dest, 32, oif=ifindex, proto=self.proto)
            if mac is not None:
                self._nl.replace_neigh(dest, ifindex, mac, proto=self.proto)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot add host route {dest} dev {dev}: {exc}") from exc
        old = self._host_routes.get((dest, dev))
        had_neigh = bool(old and old[1])
        if had_neigh and mac is None:
            self._quietly(self._nl.del_neigh, dest, ifindex)
        if old is None:
            self._visitors[dest] += 1
            if self._visitors[dest] == 1:
                self._visitor_changed(dest, True)
        self._host_routes[(dest, dev)] = (ifindex, mac is not None)

    def del_host_route(self, dest: str, dev: str) -> None:
        self._check_open()
        entry = self._host_routes.pop((dest, dev), None)
        if entry is None:
            return
        self._visitors[dest] -= 1
        if self._visitors[dest] <= 0:
            del self._visitors[dest]
            self._visitor_changed(dest, False)
        ifindex, neigh = entry
        try:
            self._nl.del_route(dest, 32, oif=ifindex)
            if neigh:
                self._nl.del_neigh(dest, ifindex)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot remove host route {dest} dev {dev}: {exc}") from exc

    def visitors(self) -> set[str]:
        return set(self._visitors)

    # -- ARP (RFC 5944 §4.6) -----------------------------------------------------------------

    def proxy_arp(self, address: str, dev: str, on: bool) -> None:
        """Answer (or stop answering) ARP requests for `address` on `dev`."""
        self._check_open()
        check_ipv4(address)
        try:
            if on:
                ifindex = self._nl.index(dev)
                self._nl.add_proxy(address, ifindex, proto=self.proto)
                self._proxies[(address, dev)] = ifindex
            else:
                ifindex = self._proxies.pop((address, dev), 0)
                if ifindex:
                    self._nl.del_neigh(address, ifindex, proxy=True)
        except NetlinkError as exc:
            raise DataplaneError(f"cannot set proxy ARP for {address} on {dev}: {exc}") from exc

    def gratuitous_arp(self, address: str, dev: str, lladdr: str | None = None) -> None:
        """Broadcast one gratuitous ARP on `dev` binding `address` to `lladdr` (default: the
        interface's own MAC). RFC 5944 §4.6 asks for a few retransmissions: call again."""
        self._check_open()
        packed = check_ipv4(address)
        try:
            own = self._nl.link(dev).address
            sender = mac_to_bytes(lladdr) if lladdr else own
            send_frame(dev, gratuitous_arp_frame(packed, sender, own))
        except (OSError, ValueError) as exc:
            raise DataplaneError(f"cannot send gratuitous ARP for {address} on {dev}: {exc}") \
                from exc

    # -- counters and teardown --------------------------------------------------------------

    def _drop(self, reason: str, count: int = 1) -> None:
        self._drops[reason] += count

    def counters(self) -> dict[str, int]:
        out = {f"dropped_{reason}": n for reason, n in self._drops.items()}
        out["dropped"] = sum(self._drops.values())
        return out

    @staticmethod
    def _quietly(func: Any, *args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except (OSError, DataplaneError) as exc:
            log.warning("cleanup step %s failed: %s", getattr(func, "__name__", func), exc)

    def close(self) -> None:
        """Remove every tunnel, route, rule, neighbour and proxy entry this instance made."""
        if self._closed:
            return
        if self._unbound is not None:
            self._quietly(self.unroute_unbound, self._unbound[0])
        for source in list(self._reverse):
            self._quietly(self.unreverse_tunnel, source)
        for dest in list(self._forward):
            self._quietly(self.unroute_via_tunnel, dest)
        for dest, dev in list(self._host_routes):
            self._quietly(self.del_host_route, dest, dev)
        for address, dev in list(self._proxies):
            self._quietly(self.proxy_arp, address, dev, False)
        for tunnel in list(self._tunnels.values()):
            del self._tunnels[tunnel.key]
            self._endpoints.subtract((tunnel.local, tunnel.remote))
            self._quietly(self._destroy_tunnel, tunnel)
        self._closed = True
        self._close_backend()
        self._nl.close()

    def _close_backend(self) -> None:
        """Release backend resources (after all kernel state is gone)."""

    def __enter__(self) -> NetlinkDataplane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
