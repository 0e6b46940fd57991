"""Events into and actions out of the sans-IO state machines (docs/architecture.md).

The state machines never touch sockets or clocks: the runtime feeds them events (a packet
received, a timer fired, a link change, a new configuration) with the current time, and
carries out the actions they return, in order. Actions that persist state (StoreBinding,
StoreVisitor, ...) come before the reply they justify, so a runtime that executes them in
order commits state before the reply leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- events


@dataclass(slots=True)
class Packet:
    """A datagram received: a UDP 434 payload (`icmp` False) or an ICMP message (`icmp` True)."""

    data: bytes
    source: str
    dest: str
    source_port: int = 434
    interface: str | None = None
    lladdr: str | None = None  # link-layer source, when the runtime knows it
    icmp: bool = False
    ttl: int = 64


@dataclass(slots=True)
class LinkChange:
    """A mobile node's interface went up or down: a link-layer indication of movement (RFC 5944
    §2.4.2 "other mechanisms", §3.6). `address`, `prefix_length` and `gateway` are what the
    interface has on that link (e.g. a co-located care-of address and router from DHCP, §3.6.1.1,
    App. C.2); None when it has none.
    """

    interface: str
    up: bool
    address: str | None = None
    prefix_length: int | None = None
    gateway: str | None = None


# ---------------------------------------------------------------- actions


@dataclass(slots=True)
class SendUDP:
    """Send `payload` from UDP port `source_port` to `dest`:`dest_port`."""

    dest: str
    payload: bytes
    dest_port: int = 434
    source: str | None = None
    source_port: int = 434
    interface: str | None = None  # send out this interface (e.g. to an MN on a visited link)
    lladdr: str | None = None  # deliver to this link-layer address (MN not yet routable)
    ttl: int | None = None  # IP TTL; None: the system default (RFC 3024 §3.2 asks 255 of a mobile node)


@dataclass(slots=True)
class SendICMP:
    """Send an ICMP message (agent advertisement or solicitation) with TTL `ttl`."""

    dest: str
    payload: bytes
    interface: str
    source: str | None = None
    ttl: int = 1


@dataclass(slots=True)
class AddTunnel:
    """Create (or take another reference on) the tunnel local -> remote with `encap`."""

    local: str
    remote: str
    encap: str


@dataclass(slots=True)
class RemoveTunnel:
    local: str
    remote: str
    encap: str


@dataclass(slots=True)
class AddTunnelRoute:
    """Route packets for `dest` (a host) into the tunnel local -> remote (HA, RFC 5944 §4.2.3).

    `exclusive` (a binding without S, §3.6.1.2): this tunnel replaces every other one `dest` was
    routed into. Not exclusive (simultaneous bindings, §3.6.1.2, §4.2.3): the tunnel is added to
    the ones `dest` already has and each of them gets a separate copy of every datagram.
    """

    dest: str
    local: str
    remote: str
    encap: str
    exclusive: bool = True


@dataclass(slots=True)
class RemoveTunnelRoute:
    """Stop routing `dest` into the tunnel local -> remote, keeping its other tunnels (one of
    several simultaneous bindings removed or expired, RFC 5944 §4.2.3); with no tunnel named
    (`remote` None), stop routing `dest` into any tunnel."""

    dest: str
    local: str | None = None
    remote: str | None = None
    encap: str | None = None


@dataclass(slots=True)
class AddReverseTunnel:
    """Send packets from `source` (arriving on `interface`) into the tunnel (RFC 3024).

    `delivery` is how the mobile node hands its packets to the foreign agent (RFC 3024 §5):
    "direct" (plain packets from `source`, §5.1) or "encapsulating" (packets tunnelled to the
    foreign agent, which decapsulates and re-tunnels them; plain ones are then routed normally,
    §5.2.1).
    """

    source: str
    local: str
    remote: str
    encap: str
    interface: str | None = None
    delivery: str = "direct"


@dataclass(slots=True)
class RemoveReverseTunnel:
    source: str


@dataclass(slots=True)
class AddUnboundRoute:
    """Co-located mobile node with reverse tunnelling (RFC 5944 §3.6, RFC 3024 §5.1): what it
    sends before a source is chosen (an unbound socket) gets `source`, its home address, and goes
    into the tunnel `local` -> `remote` too, except to `remote` and the `bypass` prefixes
    ("a.b.c.d/len": the visited link), which are routed as before."""

    source: str
    local: str
    remote: str
    encap: str
    bypass: tuple[str, ...] = ()


@dataclass(slots=True)
class RemoveUnboundRoute:
    source: str


@dataclass(slots=True)
class AddHostRoute:
    """Host route to `dest` on `interface`, with a static neighbour entry when lladdr is known."""

    dest: str
    interface: str
    lladdr: str | None = None


@dataclass(slots=True)
class RemoveHostRoute:
    dest: str
    interface: str


@dataclass(slots=True)
class SetProxyArp:
    """Answer ARP for `address` on `interface` (enable) or stop (§4.6)."""

    address: str
    interface: str
    enable: bool


@dataclass(slots=True)
class SendGratuitousArp:
    """Gratuitous ARP for `address` on `interface` with `lladdr` (None: the interface's own)."""

    address: str
    interface: str
    lladdr: str | None = None


@dataclass(slots=True)
class SetDefaultRoute:
    """Mobile node: default route via `gateway` on `interface` (None gateway: remove ours)."""

    gateway: str | None
    interface: str | None
    source: str | None = None


@dataclass(slots=True)
class SetArpReplies:
    """Mobile node: answer ARP for its home address on `interface` or not (§4.6, away from home)."""

    address: str
    interface: str
    enable: bool


@dataclass(slots=True)
class ArmTimer:
    """Fire TimerFired(`key`) at time `at` (replaces an armed timer with the same key)."""

    key: Any
    at: float


@dataclass(slots=True)
class CancelTimer:
    key: Any


@dataclass(slots=True)
class StoreRecord:
    """Persist a home address's bindings (HA), a visitor (FA) or replay state before the reply that announces it
    is sent."""

    kind: str  # "bindings" (a tuple of a home address's Binding) | "visitor" | "replay" ((node, identification))
    record: Any


@dataclass(slots=True)
class DeleteRecord:
    kind: str
    key: Any


@dataclass(slots=True)
class Log:
    """One structured log line; `fields` never holds key material."""

    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    level: str = "info"


Action = (
    SendUDP
    | SendICMP
    | AddTunnel
    | RemoveTunnel
    | AddTunnelRoute
    | RemoveTunnelRoute
    | AddReverseTunnel
    | RemoveReverseTunnel
    | AddUnboundRoute
    | RemoveUnboundRoute
    | AddHostRoute
    | RemoveHostRoute
    | SetProxyArp
    | SendGratuitousArp
    | SetDefaultRoute
    | SetArpReplies
    | ArmTimer
    | CancelTimer
    | StoreRecord
    | DeleteRecord
    | Log
)
