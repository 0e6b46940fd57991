"""An in-memory network that wires the sans-IO state machines together (tests and demos).

Nodes (home agents, foreign agents, mobile nodes) sit on named links with addresses and
link-layer addresses; the actions they return are carried out here instead of by the runtime:
datagrams are delivered to whoever owns the destination (or, for link-scoped sends, to every
node or the addressed node on that link), timers fire in time order, and data-plane actions are
recorded per node so `deliver_to_home` can say whether a correspondent's packet for a mobile
node's home address would reach it, and by which path (RFC 5944 §4.2-4.3 routing).

A unicast send bound to an interface (`SendUDP.interface`) whose destination is not on that
link, and that names no link-layer address, is routed instead, as the kernel does through the
link's router: a mobile node with a co-located care-of address reaches its home agent that way
(RFC 5944 §3.6.1.1, App. C.2).

Each node may run with its own clock error (`clock_skew`, seconds added to the network's time):
what it is told is "now" and the timers it arms are in its own time, so replay protection by
timestamps (RFC 5944 §5.7.1) can be tested with clocks that disagree. `trace` keeps the
network's time.

Nothing here touches a socket or a clock: time advances only through `run`. It stands beside the
runtime, not in the protocol layer: like the daemon it drives the state machines from outside
(docs/architecture.md).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from mipd.ipv4 import LIMITED_BROADCAST
from mipd.protocol import actions as A
from mipd.protocol.config import ForeignAgentConfig, HomeAgentConfig, MobileNodeConfig, ServedInterface
from mipd.protocol.filters import HostSet
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.protocol.home_agent import HomeAgent
from mipd.protocol.mobile_node import MobileNode
from mipd.security import SecurityAssociations

MULTICAST_PREFIX = "224."


class Machine(Protocol):
    def on_packet(self, pkt: A.Packet, now: float) -> list[A.Action]: ...
    def on_timer(self, key: Any, now: float) -> list[A.Action]: ...


@dataclass
class Interface:
    name: str
    link: str | None
    address: str | None
    lladdr: str


@dataclass
class DataplaneState:
    """What a node's data plane would hold after carrying out its actions."""

    tunnels: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    tunnel_routes: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # dest -> tunnels, newest last
    reverse: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    unbound: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = field(default_factory=dict)
    host_routes: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # dest -> (iface, lladdr)
    proxy_arp: set[tuple[str, str]] = field(default_factory=set)
    default_route: tuple[str | None, str | None] | None = None
    records: dict[tuple[str, Any], Any] = field(default_factory=dict)
    arp_replies_off: set[str] = field(default_factory=set)

    def apply(self, act: A.Action) -> None:
        match act:
            case A.AddTunnel(local, remote, encap):
                self.tunnels[(local, remote, encap)] += 1
            case A.RemoveTunnel(local, remote, encap):
                self.tunnels[(local, remote, encap)] -= 1
                if self.tunnels[(local, remote, encap)] <= 0:
                    del self.tunnels[(local, remote, encap)]
            case A.AddTunnelRoute(dest, local, remote, encap, exclusive):
                kept = [] if exclusive else [t for t in self.tunnel_routes.get(dest, []) if t != (local, remote, encap)]
                self.tunnel_routes[dest] = [*kept, (local, remote, encap)]
            case A.RemoveTunnelRoute(dest, local, remote, encap):
                named = (local, remote, encap) if remote is not None else None
                left = [t for t in self.tunnel_routes.get(dest, []) if named is not None and t != named]
                if left:
                    self.tunnel_routes[dest] = left
                else:
                    self.tunnel_routes.pop(dest, None)
            case A.AddReverseTunnel(source, local, remote, encap):
                self.reverse[source] = (local, remote, encap)
            case A.RemoveReverseTunnel(source):
                self.reverse.pop(source, None)
            case A.AddUnboundRoute(source, local, remote, encap, bypass):
                self.unbound[source] = ((local, remote, encap), bypass)
            case A.RemoveUnboundRoute(source):
                self.unbound.pop(source, None)
            case A.AddHostRoute(dest, iface, lladdr):
                self.host_routes[dest] = (iface, lladdr)
            case A.RemoveHostRoute(dest, _):
                self.host_routes.pop(dest, None)
            case A.SetProxyArp(address, iface, enable):
                (self.proxy_arp.add if enable else self.proxy_arp.discard)((address, iface))
            case A.SetDefaultRoute(gateway, iface):
                self.default_route = (gateway, iface) if gateway else None
            case A.SetArpReplies(address, _, enable):
                (self.arp_replies_off.discard if enable else self.arp_replies_off.add)(address)
            case A.StoreRecord(kind, record):
                self.records[(kind, _record_key(record))] = record
            case A.DeleteRecord(kind, key):
                self.records.pop((kind, key), None)

    def tunnel_count(self) -> int:
        return len(self.tunnels)


def _record_key(record: Any) -> Any:
    home = getattr(record, "home_address", None)
    coa = getattr(record, "care_of_address", None)
    return (home, coa) if coa is not None else home


@dataclass
class Node:
    name: str
    machine: Any
    interfaces: dict[str, Interface]
    extra_addresses: set[str] = field(default_factory=set)  # e.g. a mobile node's home address
    dataplane: DataplaneState = field(default_factory=DataplaneState)
    received: list[A.Packet] = field(default_factory=list)
    clock_skew: float = 0.0  # this node's clock minus the network's time, in seconds

    def owns(self, address: str) -> bool:
        return address in self.extra_addresses or any(i.address == address for i in self.interfaces.values())

    def interface_for(self, address: str) -> Interface:
        for i in self.interfaces.values():
            if i.address == address:
                return i
        return next(iter(self.interfaces.values()))


@dataclass(order=True)
class _Timer:
    at: float
    seq: int
    node: str = field(compare=False)
    key: Any = field(compare=False)


class SimNet:
    """Nodes on links; `run(until)` delivers datagrams and fires timers in time order."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.nodes: dict[str, Node] = {}
        self.trace: list[tuple[float, str, Any]] = []  # (time, node, action or event)
        self._timers: list[_Timer] = []
        self._armed: dict[tuple[str, Any], float] = {}
        self._seq = itertools.count()
        self._macs = itertools.count(1)
        self._inbox: list[tuple[str, A.Packet]] = []

    # ------------------------------------------------------------ topology

    def add(self, name: str, machine: Any, interfaces: dict[str, tuple[str | None, str | None]],
            extra_addresses: tuple[str, ...] = (), clock_skew: float = 0.0) -> Node:
        """Add `machine` as node `name` with interfaces {name: (link, address)}; `clock_skew` is
        how far its clock is ahead of the network's time (negative: behind)."""
        ifaces = {
            ifname: Interface(ifname, link, addr, f"02:00:00:00:00:{next(self._macs):02x}")
            for ifname, (link, addr) in interfaces.items()
        }
        node = Node(name, machine, ifaces, set(extra_addresses), clock_skew=clock_skew)
        self.nodes[name] = node
        return node

    def attach(self, name: str, ifname: str, link: str | None, address: str | None = None) -> None:
        iface = self.nodes[name].interfaces[ifname]
        iface.link, iface.address = link, address

    def on_link(self, link: str) -> list[tuple[Node, Interface]]:
        return [(n, i) for n in self.nodes.values() for i in n.interfaces.values() if i.link == link]

    # ------------------------------------------------------------ driving

    def clock(self, name: str) -> float:
        """What node `name`'s own clock reads now (the network's time plus its skew)."""
        return self.now + self.nodes[name].clock_skew

    def start(self, name: str) -> None:
        self.execute(name, self.nodes[name].machine.start(self.clock(name)))

    def link_change(self, name: str, change: A.LinkChange) -> None:
        """Tell node `name` (a mobile node) that an interface went down or came up (RFC 5944
        §2.4.2), at its own clock; what it sends is delivered at once. Move the interface with
        `attach` between a down and an up."""
        self.execute(name, self.nodes[name].machine.on_link(change, self.clock(name)))
        self._drain()

    def execute(self, name: str, actions: list[A.Action]) -> None:
        """Carry out `actions` of node `name`: sends are queued for delivery (by `inject`, `run` or
        `link_change`), timers armed in the node's own time, data-plane actions recorded."""
        node = self.nodes[name]
        for act in actions:
            self.trace.append((self.now, name, act))
            if isinstance(act, (A.SendUDP, A.SendICMP)):
                self._send(node, act)
            elif isinstance(act, A.ArmTimer):
                at = act.at - node.clock_skew  # in the network's time
                self._armed[(name, act.key)] = at
                heapq.heappush(self._timers, _Timer(at, next(self._seq), name, act.key))
            elif isinstance(act, A.CancelTimer):
                self._armed.pop((name, act.key), None)
            else:
                node.dataplane.apply(act)

    def inject(self, name: str, pkt: A.Packet) -> None:
        """Hand `pkt` to node `name` now (as if it arrived)."""
        self._inbox.append((name, pkt))
        self._drain()

    def run(self, until: float) -> None:
        """Advance time to `until`, firing every timer due on the way."""
        self._drain()
        while self._timers and self._timers[0].at <= until:
            t = heapq.heappop(self._timers)
            if self._armed.get((t.node, t.key)) != t.at:
                continue  # cancelled or re-armed
            del self._armed[(t.node, t.key)]
            self.now = max(self.now, t.at)
            self.execute(t.node, self.nodes[t.node].machine.on_timer(t.key, self.clock(t.node)))
            self._drain()
        self.now = max(self.now, until)

    def _drain(self) -> None:
        while self._inbox:
            name, pkt = self._inbox.pop(0)
            node = self.nodes[name]
            node.received.append(pkt)
            self.execute(name, node.machine.on_packet(pkt, self.clock(name)))

    # ------------------------------------------------------------ delivery

    def _send(self, sender: Node, act: A.SendUDP | A.SendICMP) -> None:
        icmp = isinstance(act, A.SendICMP)
        if act.interface is not None:
            out = sender.interfaces.get(act.interface)
            if out is None or out.link is None:
                return
            source = act.source or out.address or ""
            group = act.dest.startswith(MULTICAST_PREFIX) or act.dest == LIMITED_BROADCAST
            lladdr = getattr(act, "lladdr", None)
            on_link = False
            for node, iface in self.on_link(out.link):
                if node is sender:
                    continue
                if group or (lladdr or iface.lladdr) == iface.lladdr and node.owns(act.dest):
                    self._queue(node, iface, act, source, out.lladdr, icmp)
                    on_link = True
            if not (on_link or group or icmp or lladdr):
                self._route(sender, act, source, icmp)  # off-link: through the link's router
            return
        self._route(sender, act, act.source or next(iter(sender.interfaces.values())).address or "", icmp)

    def _route(self, sender: Node, act: A.SendUDP | A.SendICMP, source: str, icmp: bool) -> None:
        """Routed delivery to whichever other node owns the destination, if it is reachable."""
        for node in self.nodes.values():
            if node is not sender and node.owns(act.dest) and self._reachable(node, act.dest):
                self._queue(node, node.interface_for(act.dest), act, source, None, icmp)
                return

    def _reachable(self, node: Node, address: str) -> bool:
        """Routed delivery: an interface address is reachable if its interface is on a link."""
        return any(i.link for i in node.interfaces.values() if i.address == address) or (
            address in node.extra_addresses and any(i.link for i in node.interfaces.values())
        )

    def _queue(self, node: Node, iface: Interface, act: Any, source: str, lladdr: str | None, icmp: bool) -> None:
        pkt = A.Packet(
            act.payload,
            source,
            act.dest,
            getattr(act, "source_port", 434),
            iface.name,
            lladdr,
            icmp,
            getattr(act, "ttl", None) or 64,
        )
        self._inbox.append((node.name, pkt))

    # ------------------------------------------------------------ forwarding check

    def deliver_to_home(self, home_agent: str, mobile: str, home_address: str) -> list[str] | None:
        """The path a correspondent's packet to `home_address` takes, or None if it is lost.

        RFC 5944 §4.2.3/§4.3: the home agent intercepts it and tunnels it to the care-of address
        in its (newest) binding; a foreign agent owning that care-of address decapsulates it and delivers
        it on the visited link through its host route; a mobile node owning the care-of address
        (co-located) decapsulates it itself. Without a binding it is delivered on the home link.
        """
        ha, mn = self.nodes[home_agent], self.nodes[mobile]
        routes = ha.dataplane.tunnel_routes.get(home_address)
        if not routes:
            home_links = {i.link for i in ha.interfaces.values()}
            at_home = any(i.link in home_links for i in mn.interfaces.values())
            return [ha.name, "home link", mn.name] if at_home else None
        local, coa, encap = routes[-1]
        if (local, coa, encap) not in ha.dataplane.tunnels:
            return None
        endpoint = next((n for n in self.nodes.values() if n is not ha and n.owns(coa)), None)
        if endpoint is None:
            return None
        if endpoint is mn:
            ok = any(r == local and lo == coa for lo, r, _ in mn.dataplane.tunnels)
            return [ha.name, f"{encap} tunnel", mn.name] if ok else None
        if not any(r == local and lo == coa for lo, r, _ in endpoint.dataplane.tunnels):
            return None
        hop = endpoint.dataplane.host_routes.get(home_address)
        if hop is None:
            return None
        iface = endpoint.interfaces[hop[0]]
        mn_links = {i.link: i.lladdr for i in mn.interfaces.values()}
        if iface.link not in mn_links or (hop[1] and hop[1] != mn_links[iface.link]):
            return None
        return [ha.name, f"{encap} tunnel", endpoint.name, iface.link or "", mn.name]


# ---------------------------------------------------------------- a standard small topology


@dataclass
class Lab:
    """Home network with a home agent, two foreign networks with a foreign agent each, one mobile node."""

    net: SimNet
    ha_address: str = "10.1.0.1"
    home_address: str = "10.1.0.10"
    fa_addresses: tuple[str, str] = ("10.2.0.1", "10.3.0.1")

    def move(self, link: str, at: float) -> None:
        """Carry the mobile node's interface to `link` ("home", "visit1", "visit2") at time `at`."""
        self.net.run(at)
        self.net.link_change("mn", A.LinkChange("eth0", False))
        self.net.attach("mn", "eth0", link, self.home_address if link == "home" else None)
        self.net.link_change("mn", A.LinkChange("eth0", True))
        self.net.run(self.net.now)


def standard_lab(now: float, sas: dict[str, list[Any]], seed: int = 1, lifetime: int = 600,
                 reverse_tunnel: bool = True, encapsulation: str = "ipip") -> Lab:
    """HA 10.1.0.1 on "home", FA1 10.2.0.1 on "visit1", FA2 10.3.0.1 on "visit2", MN 10.1.0.10 at home.

    `sas` maps "ha", "fa1", "fa2", "mn" to the security associations each holds.
    """
    lab = Lab(SimNet(now))
    rng = random.Random(seed)
    ha_cfg = HomeAgentConfig(lab.ha_address, "home0", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24",)),
                             max_lifetime=lifetime, advertisement_interval=1.0, advertisement_lifetime=3)
    lab.net.add("ha", HomeAgent(ha_cfg, SecurityAssociations(sas.get("ha", [])), random.Random(rng.random())),
                {"home0": ("home", lab.ha_address), "core0": ("core", "192.0.2.1")})
    for i, (name, addr) in enumerate(zip(("fa1", "fa2"), lab.fa_addresses, strict=True), start=1):
        cfg = ForeignAgentConfig((ServedInterface("visit0", addr, 24),), advertisement_interval=1.0,
                                 advertisement_lifetime=3, registration_lifetime=lifetime)
        fa = ForeignAgent(cfg, SecurityAssociations(sas.get(name, [])), random.Random(rng.random()))
        lab.net.add(name, fa, {"visit0": (f"visit{i}", addr), "core0": ("core", f"192.0.2.{1 + i}")})
    mn_cfg = MobileNodeConfig(lab.home_address, lab.ha_address, 24, home_gateway=lab.ha_address,
                              interfaces=("eth0",), reverse_tunnel=reverse_tunnel, encapsulation=encapsulation,
                              lifetime=lifetime)
    mn = MobileNode(mn_cfg, SecurityAssociations(sas.get("mn", [])), random.Random(rng.random()))
    lab.net.add("mn", mn, {"eth0": ("home", lab.home_address)}, extra_addresses=(lab.home_address,))
    for name in ("ha", "fa1", "fa2", "mn"):
        lab.net.start(name)
    return lab
