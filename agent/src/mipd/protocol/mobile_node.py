"""Mobile node state machine (RFC 5944 §2.4, §3.6, §4.2.1, §4.6; RFC 3024 §4.1; RFC 3012 §3.1;
RFC 2794 §2).

Sans-IO: events in (`on_packet` for agent advertisements and registration replies, `on_link`
for link changes, `on_timer`, `on_config`), actions out, in the order they must be carried out.
No sockets, no clock, no randomness but the injected `rng`.

The node hears agents and watches its links (`mipd.protocol.discovery` keeps both and says where
it can be attached: home, a foreign agent, or a co-located care-of address), registers there, and
installs the data plane when the registration is accepted:

- Agent discovery and move detection (§2.4), kept in `mipd.protocol.discovery`: heard agents
  and their advertisement lifetime (Algorithm 1, §2.4.2.1), network prefix change (Algorithm 2,
  §2.4.2.2), agent reboot by sequence number (§2.4.4), solicitation; here, what each means for
  the registration: link-layer indications (`LinkChange`), returning home (§2.4.3), a move.
- Registration (§3.6.1), retransmission (§3.6.3: timestamps get a new Identification, nonces
  are resent unchanged; at least one second apart, doubling up to the configured cap), reply
  validity (§3.6.2.1), acceptance (§3.6.2.2) and repair of denials (§3.6.2.3, RFC 3024 §4.1.2).
- ARP (§4.6): no answering ARP for the home address away from home; gratuitous ARP on return.
- Data plane (§4.2.1, §3.6): the default route (via the FA, or the co-located link's router with
  the home address as ``src``); with a co-located address the node's own tunnel from the HA and,
  with T granted (RFC 3024 §5.1), its reverse tunnel for what it sends from the home address,
  bound or connected (`AddReverseTunnel`) and unbound (`AddUnboundRoute`: routed before a source
  is chosen), except to the HA and the visited link. Removed on a move, at home, on shutdown.
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mipd.ipv4 import LIMITED_BROADCAST, UNSPECIFIED
from mipd.protocol import codes
from mipd.protocol.actions import (
    Action,
    AddHostRoute,
    AddReverseTunnel,
    AddTunnel,
    AddUnboundRoute,
    ArmTimer,
    CancelTimer,
    LinkChange,
    Log,
    Packet,
    RemoveHostRoute,
    RemoveReverseTunnel,
    RemoveTunnel,
    RemoveUnboundRoute,
    SendGratuitousArp,
    SendUDP,
    SetArpReplies,
    SetDefaultRoute,
)
from mipd.protocol.config import MobileNodeConfig, encap_for_flags
from mipd.protocol.discovery import (
    COLOCATED,
    FOREIGN,
    HOME,
    Adaptation,
    AgentKey,
    Attachment,
    Discovery,
    HeardAgent,
    Link,
    agent_timer,
    solicit_timer,
)
from mipd.security import SecurityAssociation, SecurityAssociations, next_request_id, sign, sign_mn_aaa, verify
from mipd.security.replay import clock_offset_from_reply, low32
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.errors import WireError
from mipd.wire.extensions import MFAE, MHAE, AuthExtension, ChallengeExtension, NAIExtension

MIN_REQUEST_INTERVAL = 1.0  # §3.6, §3.6.3: never register more often than once per second
FIRST_RETRANSMIT = 1.0  # §3.6.3: first retransmission timeout, doubling each time
HOLDDOWN = 60.0  # after a denial that cannot be repaired, leave that agent (or HA) alone this long
MAX_RESYNC = 3  # consecutive 133 replies before giving up for a while (§3.6.2.3)
MAX_CHALLENGE_RETRIES = 3  # consecutive RFC 3012 challenge errors before leaving the agent
GARP_COUNT = 3  # §4.6: the gratuitous ARP "SHOULD be retransmitted a small number of times"
GARP_INTERVAL = 1.0

SEND_TIMER = ("mn", "send")  # (re)transmission, deferred send, retry after a denial
RENEW_TIMER = ("mn", "renew")  # re-registration before the lifetime runs out (§3.6.2.2)
EXPIRE_TIMER = ("mn", "expire")  # the granted lifetime ran out

_ENCAP_FLAGS = {"ipip": 0, "gre": reg.FLAG_G, "minimal": reg.FLAG_M}
_ENCAP_ADVERTISED = {"ipip": 0, "gre": icmp.ADV_G, "minimal": icmp.ADV_M}

# §3.6.2.3: denials the node cannot repair itself. Codes the foreign agent (or its relationship
# with the home agent, 132) is to blame for make the node try another care-of address or agent.
_TRANSIENT = frozenset(
    {
        codes.FA_RESOURCES,
        codes.FA_TIMEOUT,
        *range(80, 89),
        codes.FA_MISSING_NAI,
        codes.FA_MISSING_HOME_AGENT,
        codes.FA_MISSING_HOMEADDR,
    }  # RFC 2794 §3: the HA's reply lacked what the FA needed; try later
)
_FA_FAULT = frozenset({*range(64, 128), codes.FA_INVALID_HA_ADDRESS, codes.HA_FA_AUTH})
_AUTH_FAILURES = frozenset({codes.FA_MN_AUTH, codes.HA_MN_AUTH, codes.FA_HA_AUTH, codes.HA_FA_AUTH})
_CHALLENGE_ERRORS = frozenset({codes.FA_UNKNOWN_CHALLENGE, codes.FA_MISSING_CHALLENGE, codes.FA_STALE_CHALLENGE})


def garp_timer(interface: str) -> tuple[str, str, str]:
    return ("mn", "garp", interface)


# ---------------------------------------------------------------------------------- records


@dataclass(slots=True)
class Registration:
    """The registration the home agent accepted (§3.6.2.2)."""

    attachment: Attachment
    home_agent: str
    flags: int
    lifetime: int  # granted
    expires_at: float | None  # None: infinite lifetime


@dataclass(slots=True)
class _Pending:
    """§3.6: per pending registration, what was sent where and when."""

    attachment: Attachment
    deregister: bool
    interval: float = FIRST_RETRANSMIT
    payload: bytes | None = None  # None: the next transmission is a new request
    identification: int | None = None
    first_sent: float = 0.0  # when this Identification was first sent (lifetime counts from here)
    lifetime: int = 0
    flags: int = 0
    home_agent: str = ""
    challenge: bytes | None = None  # the FA's challenge this request answers (RFC 3012 §3.1)
    awaiting: bool = False  # sent, no reply yet


@dataclass(frozen=True, slots=True)
class _Plan:
    """The fields of the next request and how it leaves the node (§3.6.1.1, §3.6.1.2)."""

    flags: int
    lifetime: int
    home_agent: str
    care_of: str
    dest: str
    source: str
    interface: str
    lladdr: str | None
    ttl: int | None
    challenge: bytes | None
    fa_sa: SecurityAssociation | None


@dataclass(frozen=True, slots=True)
class _DataPlane:
    host_route: AddHostRoute | None = None
    default_route: SetDefaultRoute | None = None
    tunnel: AddTunnel | None = None
    reverse: AddReverseTunnel | None = None
    unbound: AddUnboundRoute | None = None


@dataclass(frozen=True, slots=True)
class MobileNodeStatus:
    """What `mipctl status` shows for a mobile node.

    `location` is where the node is now ("detached": no agent or address to register with);
    `registered` says whether the home agent holds an unexpired binding for it, which can
    outlast a move until the binding's lifetime runs out.
    """

    location: str  # "home" | "away" | "detached"
    registered: bool
    pending: bool
    colocated: bool
    care_of_address: str | None
    agent_address: str | None  # foreign agent relaying, or the home agent when direct
    interface: str | None
    home_agent: str
    lifetime_left: float | None  # None: not registered, or an infinite lifetime
    last_reply_code: int | None

    @property
    def at_home(self) -> bool:
        return self.location == "home"


# ---------------------------------------------------------------------------------- machine


class MobileNode:
    """One mobile node: agent discovery, move detection, registration, data plane (RFC 5944)."""

    def __init__(self, config: MobileNodeConfig, sas: SecurityAssociations, rng: random.Random) -> None:
        self.config = config
        self.sas = sas
        self.rng = rng
        self.counters: Counter[str] = Counter()
        self._discovery = Discovery(config, rng, self.counters)
        self._target: Attachment | None = None
        self._pending: _Pending | None = None
        self._registration: Registration | None = None
        self._installed = _DataPlane()
        self._arp: dict[str, bool] = {}
        self._garp_left: dict[str, int] = {}
        self._reset_home_agent_state()
        self._last_sent: float | None = None
        self._last_code: int | None = None

    def _reset_home_agent_state(self) -> None:
        self._ha_adapt = Adaptation()
        self._ha_override: str | None = None  # 136: the home agent's unicast address
        self._ha_hold_until = 0.0
        self._prev_id: int | None = None
        self._last_accepted_id: int | None = None
        self._clock_offset = 0
        self._nonce: int | None = None
        self._failures = 0
        self._resyncs = 0

    # ------------------------------------------------------------------ queries

    def status(self, now: float) -> MobileNodeStatus:
        """Current location and registration, for `mipctl status`."""
        reg_ = self._registration
        target = self._target
        att = target or (reg_.attachment if reg_ else None)  # where we are, else what is registered
        left = None
        if reg_ is not None and reg_.expires_at is not None:
            left = max(0.0, reg_.expires_at - now)
        location = "detached" if target is None else ("home" if target.kind == HOME else "away")
        relay = self._relay(att) if att else None
        return MobileNodeStatus(
            location=location,
            registered=reg_ is not None,
            pending=self._pending is not None and self._pending.awaiting,
            colocated=att is not None and att.kind == COLOCATED,
            care_of_address=att.care_of if att else None,
            agent_address=relay.address if relay else (self._home_agent() if att else None),
            interface=att.interface if att else None,
            home_agent=self._home_agent(),
            lifetime_left=left,
            last_reply_code=self._last_code,
        )

    def agents(self) -> list[HeardAgent]:
        """Every agent heard whose advertisement has not been forgotten."""
        return list(self._discovery.agents.values())

    # ------------------------------------------------------------------ events

    def start(self, now: float) -> list[Action]:
        """Begin: look for agents on every interface not known to be down (§2.4)."""
        actions = self._reconsider(now, "start")
        for link in self._discovery.links.values():
            actions += self._discovery.start_search(link, now, True, self._target)
        return actions

    def on_packet(self, pkt: Packet, now: float) -> list[Action]:
        """An ICMP agent advertisement or a UDP 434 registration reply. Never raises."""
        self.counters["rx.packets"] += 1
        try:
            if pkt.icmp:
                return self._on_icmp(pkt, now)
            return self._on_udp(pkt, now)
        except WireError as e:
            self.counters[e.counter] += 1  # §1.9: an unknown extension 0-127 is silently discarded too
            return []
        except Exception as e:  # a bug must not take the node down: count it and drop the packet
            self.counters["discard.internal_error"] += 1
            return [Log("internal-error", {"error": repr(e), "node": self.config.home_address}, "error")]

    def on_link(self, change: LinkChange, now: float) -> list[Action]:
        """A link-layer indication (§2.4.2, §3.6): a link went down, or came up (maybe elsewhere)."""
        link = self._discovery.links.get(change.interface)
        if link is None:
            self.counters["ignore.link_unknown_interface"] += 1
            return []
        self.counters["link.up" if change.up else "link.down"] += 1
        if not change.up:
            return self._link_down(link, now)
        return self._link_up(link, change, now)

    def on_timer(self, key: Any, now: float) -> list[Action]:
        """A timer this machine armed has fired."""
        if not isinstance(key, tuple) or len(key) < 2 or key[0] != "mn":
            return []
        kind = key[1]
        if key == SEND_TIMER:
            return self._transmit(now) if self._pending is not None else []
        if key == RENEW_TIMER:
            return self._renew(now)
        if key == EXPIRE_TIMER:
            return self._expire(now)
        if kind == "solicit" and len(key) == 3:
            return self._on_solicit_timer(key[2], now)
        if kind == "agent" and len(key) == 4:
            return self._on_agent_timer((key[2], key[3]), now)
        if kind == "garp" and len(key) == 3:
            return self._on_garp_timer(key[2], now)
        return []

    def on_config(self, config: MobileNodeConfig, sas: SecurityAssociations, now: float) -> list[Action]:
        """Reload: new interfaces, settings and SAs. A changed identity starts over (§3.6); a new
        newest SA with the home agent (key rotation, §3.5) re-registers at once with it, so a
        fleet rotation does not wait for lifetimes to run out, and lifts any hold-down."""
        old_sa = self._home_sa()
        old, self.config, self.sas = self.config, config, sas
        self._discovery.config = config
        new_sa = self._home_sa()
        changed = old != config or old_sa != new_sa
        links = self._discovery.links
        actions: list[Action] = []
        for name in [n for n in links if n not in config.interfaces]:
            actions += self._link_down(links.pop(name), now, reconsider=False)
        for name in config.interfaces:
            links.setdefault(name, Link(name))
        identity = ("home_address", "home_agent", "home_prefix_length", "nai")
        if any(getattr(old, f) != getattr(config, f) for f in identity):
            actions += self._apply_dataplane(_DataPlane())
            self._registration = None
            self._reset_home_agent_state()
        elif changed:
            self._ha_adapt = Adaptation()
        if changed:
            self._pending = None
            self._target = None  # re-register with the new settings wherever we are
            actions += [CancelTimer(SEND_TIMER), CancelTimer(RENEW_TIMER)]
        actions += self._reconsider(now, "configuration changed")
        for link in links.values():
            actions += self._discovery.start_search(link, now, False, self._target)
        return actions

    def shutdown(self) -> list[Action]:
        """Stop: cancel timers and remove the routes and tunnels this node installed.

        No deregistration is sent (a restart re-registers; the binding expires otherwise), and ARP
        is left as it is: away from home the node must still not answer for its home address (§4.6).
        """
        actions: list[Action] = [CancelTimer(SEND_TIMER), CancelTimer(RENEW_TIMER), CancelTimer(EXPIRE_TIMER)]
        for name in self._discovery.links:
            actions += [CancelTimer(solicit_timer(name)), CancelTimer(garp_timer(name))]
        actions += [CancelTimer(agent_timer(k)) for k in self._discovery.agents]
        actions += self._apply_dataplane(_DataPlane())
        self._pending = None
        self._registration = None
        self._target = None
        return actions

    # ------------------------------------------------------------------ links

    def _link_down(self, link: Link, now: float, reconsider: bool = True) -> list[Action]:
        """The link is gone: its agents, its address and anything installed on it go too."""
        actions = self._discovery.link_down(link)
        actions += self._teardown_interface(link.name)
        if self._target is not None and self._target.interface == link.name:
            self._target = None
            if self._registration is not None and self._registration.attachment.interface == link.name:
                self._registration = None
        if reconsider:
            actions += self._reconsider(now, f"link {link.name} down")
        return actions

    def _link_up(self, link: Link, change: LinkChange, now: float) -> list[Action]:
        """A link came up (a new link: what was heard before is forgotten), or its address changed
        (a co-located care-of address on it is no longer the same). Either is a positive
        indication of a move, so the search may restart at the initial rate (§2.4)."""
        new_link, actions = self._discovery.link_up(link, change.address, change.prefix_length, change.gateway)
        actions += self._reconsider(now, f"link {link.name} up")
        return actions + self._discovery.start_search(link, now, new_link, self._target)

    # ------------------------------------------------------------------ agent discovery (§2.4)

    def _on_icmp(self, pkt: Packet, now: float) -> list[Action]:
        adv = self._discovery.advertisement(pkt)
        return [] if adv is None else self._on_advertisement(pkt, adv, now)

    def _on_advertisement(self, pkt: Packet, adv: icmp.AgentAdvertisement, now: float) -> list[Action]:
        """What an advertisement means for where the node registers (§2.4.2-§2.4.4, §3.6)."""
        discovery = self._discovery
        agent, rebooted, actions = discovery.heard(pkt, adv, now)
        if adv.lifetime == 0:
            self.counters["agent.withdrawn"] += 1  # RFC 1256: lifetime 0, the router is going away
            return actions + self._agent_lost(agent, now, "advertisement lifetime 0")
        if discovery.is_home_advertisement(agent, self._home_agent()):
            return actions + self._reconsider(now, "home agent advertisement")
        target = self._target
        if rebooted and target is not None and target.relay == agent.key:
            self.counters["agent.rebooted"] += 1  # §2.4.4, §3.6: register again
            return actions + self._begin(now)
        if self._fresh_challenge(agent):
            return actions + self._transmit(now)
        if target is not None and discovery.moved_by_prefix(agent, target):
            self.counters["move.prefix"] += 1  # §2.4.2.2
            actions += discovery.leave_network(target, self._home_agent())
            return actions + self._reconsider(now, "network prefix changed", prefer=agent)
        return actions + self._reconsider(now, "agent advertisement")

    def _fresh_challenge(self, agent: HeardAgent) -> bool:
        """RFC 3012 §3.1: the agent refused our challenge and now advertises a new one."""
        pending = self._pending
        refused = agent.refused_challenge
        if refused is None or agent.challenge is None or agent.challenge == refused:
            return False
        agent.refused_challenge = None
        return pending is not None and not pending.awaiting and pending.attachment.relay == agent.key

    def _on_agent_timer(self, key: AgentKey, now: float) -> list[Action]:
        agent = self._discovery.expired(key, now)  # §2.4.2.1
        return [] if agent is None else self._agent_lost(agent, now, "advertisement lifetime expired")

    def _agent_lost(self, agent: HeardAgent, now: float, reason: str) -> list[Action]:
        """§2.4.2.1: lost contact; register with another live agent or look for one."""
        actions = self._discovery.forget(agent.key)
        target = self._target
        if target is not None and (
            target.relay == agent.key or self._discovery.is_home_advertisement(agent, self._home_agent())
        ):
            self.counters["move.agent_lost"] += 1
        actions += self._reconsider(now, reason)
        link = self._discovery.links.get(agent.interface)
        if link is not None:
            actions += self._discovery.start_search(link, now, False, self._target)
        return actions

    def _on_solicit_timer(self, interface: str, now: float) -> list[Action]:
        """§2.4: the next solicitation; when the initial ones went unanswered, a link without an
        agent, which may make a co-located care-of address the place to register."""
        link = self._discovery.links.get(interface)
        if link is None or not link.soliciting:
            return []
        actions: list[Action] = []
        if self._discovery.end_initial_search(link):
            actions += self._reconsider(now, f"no agent on {interface}")
        return actions + self._discovery.continue_search(link, now, self._target)

    # ------------------------------------------------------------------ where to register

    def _reconsider(self, now: float, reason: str, prefer: HeardAgent | None = None) -> list[Action]:
        """Pick where to be attached; start registering there if that is somewhere new."""
        choice = self._discovery.choose(now, self._target, prefer, self._home_agent())
        if choice == self._target:
            return []
        if choice is None:
            self._target = None
            self._pending = None
            self.counters["detached"] += 1
            log = Log("detached", {"node": self.config.home_address, "reason": reason})
            return [CancelTimer(SEND_TIMER), log]
        return self._attach(choice, now, reason)

    def _attach(self, att: Attachment, now: float, reason: str) -> list[Action]:
        """Move to `att`: the §4.6 ARP steps in their required order, then the request."""
        self.counters[f"move.to_{att.kind}"] += 1
        fields = {"node": self.config.home_address, "interface": att.interface, "care_of": att.care_of}
        if att.relay is not None:
            fields["agent"] = att.relay[1]
        actions: list[Action] = [Log("attach", {**fields, "kind": att.kind, "reason": reason})]
        self._target = att
        if att.kind == HOME:
            actions += self._return_home(att, now)
        else:
            actions += self._arp_away()
        return actions + self._begin(now)

    def _return_home(self, att: Attachment, now: float) -> list[Action]:
        """§4.6 (returning home) and §2.4.3: answer ARP again, gratuitous ARP for ourselves, and
        configure routing for the home network, all before the deregistration is sent."""
        home, iface = self.config.home_address, att.interface
        actions: list[Action] = []
        if self._arp.get(iface) is not True:
            self._arp[iface] = True
            actions.append(SetArpReplies(home, iface, True))
        actions.append(SendGratuitousArp(home, iface))
        self._garp_left[iface] = GARP_COUNT - 1
        actions.append(ArmTimer(garp_timer(iface), now + GARP_INTERVAL))
        return actions + self._apply_dataplane(self._desired_dataplane(att, 0, self._home_agent()))

    def _on_garp_timer(self, interface: str, now: float) -> list[Action]:
        left = self._garp_left.get(interface, 0)
        target = self._target
        if left <= 0 or target is None or target.kind != HOME or target.interface != interface:
            return []
        self._garp_left[interface] = left - 1
        actions: list[Action] = [SendGratuitousArp(self.config.home_address, interface)]
        if left > 1:
            actions.append(ArmTimer(garp_timer(interface), now + GARP_INTERVAL))
        return actions

    def _arp_away(self) -> list[Action]:
        """§4.6: before registering away from home, stop answering ARP for the home address."""
        actions: list[Action] = []
        for name in self._discovery.links:
            if self._arp.get(name) is not False:
                self._arp[name] = False
                actions.append(SetArpReplies(self.config.home_address, name, False))
        return actions

    # ------------------------------------------------------------------ sending requests (§3.6.1)

    def _begin(self, now: float) -> list[Action]:
        """Start a new registration (or deregistration at home) for the current target."""
        att = self._target
        if att is None:
            return []
        self._pending = _Pending(att, deregister=att.kind == HOME)
        return self._transmit(now)

    def _transmit(self, now: float) -> list[Action]:
        """Send the pending request, or arm the timer for when it may be sent (§3.6, §3.6.3)."""
        pending = self._pending
        if pending is None:
            return []
        not_before = max(self._ha_hold_until, (self._last_sent or -1e18) + MIN_REQUEST_INTERVAL)
        if now < not_before:
            return [ArmTimer(SEND_TIMER, not_before)]
        plan = self._plan(pending.attachment, pending.deregister)
        sa = self._home_sa()
        if plan is None or sa is None:
            return self._cannot_send(pending, plan is None)
        relay = self._relay(pending.attachment)
        if relay is not None and plan.challenge is not None and plan.challenge == relay.refused_challenge:
            return []  # RFC 3012 §3.1: needs a new challenge; the next advertisement brings one
        actions: list[Action] = []
        if not self._resend_unchanged(pending, plan, sa):
            ident = self._next_identification(sa, now)
            pending.payload = self._encode(plan, ident, sa)
            pending.identification, pending.first_sent, pending.challenge = ident, now, plan.challenge
            pending.lifetime, pending.flags, pending.home_agent = plan.lifetime, plan.flags, plan.home_agent
        self.counters["tx.retransmission" if pending.awaiting else "tx.request"] += 1
        actions.append(
            SendUDP(
                plan.dest,
                pending.payload,
                source=plan.source,
                interface=plan.interface,
                lladdr=plan.lladdr,
                ttl=plan.ttl,
            )
        )
        self._last_sent = now
        pending.awaiting = True
        actions.append(ArmTimer(SEND_TIMER, now + pending.interval))
        pending.interval = min(pending.interval * 2, self._max_retransmit(pending))
        return actions

    @staticmethod
    def _resend_unchanged(pending: _Pending, plan: _Plan, sa: SecurityAssociation) -> bool:
        """§3.6.3: with timestamps every transmission is a new request; with nonces a
        retransmission is the same request, unchanged. RFC 3012 §3.2: an FA takes a challenge
        again only with the same Identification, so a request answering a challenge is also
        resent unchanged (until a new challenge is known)."""
        if pending.payload is None or pending.home_agent != plan.home_agent or plan.challenge != pending.challenge:
            return False
        return sa.replay == "nonce" or pending.challenge is not None

    def _max_retransmit(self, pending: _Pending) -> float:
        """§3.6.3: no longer than the requested lifetime, never under one second."""
        cap = self.config.max_retransmit_interval
        if not pending.deregister and pending.lifetime:
            cap = min(cap, float(pending.lifetime))
        return max(MIN_REQUEST_INTERVAL, cap)

    def _cannot_send(self, pending: _Pending, no_route: bool) -> list[Action]:
        reason = "relay agent gone" if no_route else "no security association with the home agent"
        self.counters["error.no_route" if no_route else "error.no_security_association"] += 1
        self._pending = None
        fields = {"node": self.config.home_address, "care_of": pending.attachment.care_of, "reason": reason}
        return [Log("registration-not-sent", fields, "error")]

    def _plan(self, att: Attachment, deregister: bool) -> _Plan | None:
        """§3.6.1.1 IP fields and §3.6.1.2 request fields for registering at `att`."""
        ha, home = self._home_agent(), self.config.home_address
        if deregister:
            # §3.6.1.2: lifetime 0 and care-of = home address deregisters every binding (App. C.3)
            return _Plan(0, 0, ha, home, ha, home, att.interface, None, None, None, None)
        relay = self._relay(att)
        if att.relay is not None and relay is None:
            return None
        colocated = att.kind == COLOCATED
        adapts = [self._ha_adapt] + ([relay.adapt] if relay else [])
        encap = self._encapsulation(adapts, None if colocated else relay)
        flags = _ENCAP_FLAGS[encap] | (reg.FLAG_D if colocated else 0)
        if self._reverse_tunnel(adapts, relay):
            flags |= reg.FLAG_T
        caps = [a.lifetime_cap for a in adapts if a.lifetime_cap is not None]
        if relay is not None:
            caps.append(relay.registration_lifetime)  # §3.6.1.2: SHOULD NOT exceed the advertised
        lifetime = max(1, min([self.config.lifetime, *caps]))
        source = att.care_of if colocated else home  # §3.6.1.1
        if relay is None:
            return _Plan(
                flags, lifetime, ha, att.care_of, ha, source, att.interface, None, self._ttl(flags, False), None, None
            )
        return _Plan(
            flags,
            lifetime,
            ha,
            att.care_of,
            relay.address,
            source,
            att.interface,
            relay.lladdr,
            self._ttl(flags, True),
            relay.challenge,
            self._fa_sa(relay),
        )

    @staticmethod
    def _ttl(flags: int, via_fa: bool) -> int | None:
        """RFC 3024 §4.1.1: 255 when asking for a reverse tunnel; App. C.1: 1 to an on-link FA."""
        if flags & reg.FLAG_T:
            return 255
        return 1 if via_fa else None

    def _encapsulation(self, adapts: list[Adaptation], fa: HeardAgent | None) -> str:
        """§3.6.1.2: M/G only when we decapsulate ourselves or the FA advertises them."""
        want = self.config.encapsulation
        if any(a.ipip_only for a in adapts) or want not in _ENCAP_FLAGS:
            return "ipip"
        if fa is not None and not fa.flags & _ENCAP_ADVERTISED[want]:
            return "ipip"
        return want

    def _reverse_tunnel(self, adapts: list[Adaptation], relay: HeardAgent | None) -> bool:
        """RFC 3024 §4.1.1: T when configured and the FA (if any) advertises T; denials adjust it."""
        overrides = [a.reverse for a in adapts if a.reverse is not None]
        if False in overrides:
            return False
        if True in overrides:
            return True
        return self.config.reverse_tunnel and (relay is None or bool(relay.flags & icmp.ADV_T))

    def _encode(self, plan: _Plan, ident: int, sa: SecurityAssociation) -> bytes:
        """§3.6.1.3 order: fixed part, NAI (RFC 2794 §2), MHAE, FA-only extensions (the RFC 3012
        §3.1 challenge follows the MHAE), MFAE last.

        RFC 3012 §3.1: a challenge is answered by an MFAE when the node shares an SA with the FA,
        otherwise by an MN-AAA extension (MUST); the MN-AAA key is the node's SA with its home
        domain, the same one the home agent checks (it accepts MN-AAA as authorization-enabling).
        """
        config = self.config
        exts: list[Any] = [NAIExtension(config.nai)] if config.nai else []
        req = reg.RegistrationRequest(
            plan.flags, plan.lifetime, config.home_address, plan.home_agent, plan.care_of, ident, exts
        )
        data = sign(sa, req.encode(), MHAE)
        if plan.challenge is not None:
            data += ChallengeExtension(plan.challenge).encode()
        if plan.fa_sa is not None:
            return sign(plan.fa_sa, data, MFAE)
        if plan.challenge is not None:
            return sign_mn_aaa(sa, data)
        return data

    def _next_identification(self, sa: SecurityAssociation, now: float) -> int:
        """§5.7: from the SA's replay method, after what the home agent last told us."""
        ident = next_request_id(sa.replay, now, self._prev_id, self._clock_offset, self._nonce, self.rng)
        self._prev_id = ident
        return ident

    def _home_agent(self) -> str:
        return self._ha_override or self.config.home_agent

    def _relay(self, att: Attachment) -> HeardAgent | None:
        """The foreign agent `att` registers through, if any and still heard."""
        return self._discovery.relay(att)

    def _mn_peers(self) -> list[str]:
        """Whom our SA with the home agent is filed under: home address, NAI, or the HA (§3.6)."""
        config = self.config
        return [peer for peer in (config.home_address, config.nai, self._home_agent(), config.home_agent) if peer]

    def _home_sa(self) -> SecurityAssociation | None:
        """The newest SA with the home agent (key rotation adds newer ones last)."""
        for peer in self._mn_peers():
            sas = self.sas.for_peer(peer)
            if sas:
                return sas[-1]
        return None

    def _fa_sa(self, fa: HeardAgent) -> SecurityAssociation | None:
        for peer in (fa.address, *fa.care_of_addresses):
            sas = self.sas.for_peer(peer)
            if sas:
                return sas[-1]
        return None

    # ------------------------------------------------------------------ replies (§3.6.2)

    def _on_udp(self, pkt: Packet, now: float) -> list[Action]:
        """A reply is authenticated after it is decoded: a longer datagram than `limits.message_size`
        is discarded unread, at most `limits.extensions` extensions are decoded (RFC 5944 §3.8.2.1's
        rule for the agents: bounded work before authentication)."""
        limits = self.config.limits
        if len(pkt.data) > limits.message_size:
            self.counters["discard.oversize"] += 1
            return []
        msg = reg.decode(pkt.data, limits.extensions)
        if not isinstance(msg, reg.RegistrationReply):
            self.counters["discard.not_a_reply"] += 1
            return []
        self.counters["rx.reply"] += 1
        return self._on_reply(msg, now)

    def _on_reply(self, reply: reg.RegistrationReply, now: float) -> list[Action]:
        pending = self._pending
        if pending is None or not pending.awaiting or pending.identification is None:
            self.counters["discard.no_pending_request"] += 1
            return []
        if low32(reply.identification) != low32(pending.identification):
            self.counters["discard.identification_mismatch"] += 1  # §3.6.2.1
            return []
        if reply.home_address != self.config.home_address:
            self.counters["discard.not_our_home_address"] += 1
            return []
        problem = self._authentication_problem(reply, pending)
        if problem is not None:
            self.counters[f"discard.{problem.replace(' ', '_')}"] += 1
            fields = {
                "node": self.config.home_address,
                "care_of": pending.attachment.care_of,
                "code": reply.code,
                "reason": problem,
            }
            return [Log("security-exception", fields, "warning")]  # §3.6.2.1: SHOULD log
        if self._from_home_agent(reply.code) and self._home_sa_replay() == "nonce":
            self._nonce = reply.identification >> 32  # §5.7.2: every authenticated HA reply
        self._take_challenge(reply, pending)
        self._last_code = reply.code
        pending.awaiting = False
        if codes.accepted(reply.code):
            return self._accepted(reply, pending, now)
        self.counters[f"denied.{reply.code}"] += 1
        return [CancelTimer(SEND_TIMER), *self._denied(reply, pending, now)]

    @staticmethod
    def _from_home_agent(code: int) -> bool:
        """Accepted, or denied by the home agent (anything but the FA's 64-127 and 194)."""
        return not (64 <= code <= 127 or code == codes.FA_INVALID_HA_ADDRESS)

    def _home_sa_replay(self) -> str:
        sa = self._home_sa()
        return sa.replay if sa else "timestamp"

    def _authentication_problem(self, reply: reg.RegistrationReply, pending: _Pending) -> str | None:
        """§3.6.2.1 a/b: exactly one valid MFAE when we share an SA with the FA; exactly one
        valid MHAE when the code comes from the home agent."""
        relay = self._relay(pending.attachment)
        if relay is not None and self._fa_sa(relay) is not None:
            peers = [relay.address, *relay.care_of_addresses]
            problem = self._check_auth(reply, MFAE, peers, "mfae")
            if problem is not None:
                return problem
        if self._from_home_agent(reply.code):
            return self._check_auth(reply, MHAE, self._mn_peers(), "mhae")
        return None

    def _check_auth(self, reply: reg.RegistrationReply, ext_type: int, peers: list[str], name: str) -> str | None:
        exts = [e for e in reply.extensions if isinstance(e, AuthExtension) and e.type == ext_type]
        if len(exts) != 1:
            return f"{name} missing" if not exts else f"{name} duplicated"
        ext = exts[0]
        sa = next((s for s in (self.sas.get(peer, ext.spi) for peer in peers) if s is not None), None)
        if sa is None:
            return f"{name} unknown spi"
        used = verify(sa, reply.raw, ext)
        if used is None:
            return f"{name} invalid"
        if used != sa.algorithm:
            self.counters["security.auth_fallback"] += 1
        return None

    def _take_challenge(self, reply: reg.RegistrationReply, pending: _Pending) -> None:
        """RFC 3012 §3.1/§3.3: a reply from the FA MAY carry the next challenge to use, appended
        after the home agent's echo of the one we answered (§3.4); the echo is not new."""
        relay = self._relay(pending.attachment)
        new = [
            e.challenge for e in reply.extensions
            if isinstance(e, ChallengeExtension) and e.challenge != pending.challenge
        ]
        if relay is not None and new:
            relay.challenge = new[-1]

    def _decision(self, pending: _Pending, code: int, reason: str, level: str = "info") -> Log:
        """The one log line of a registration decision (never any key material)."""
        fields = {
            "node": self.config.home_address,
            "care_of": pending.attachment.care_of,
            "home_agent": pending.home_agent,
            "code": code,
            "code_name": codes.name(code),
            "reason": reason,
        }
        return Log("deregistration" if pending.deregister else "registration", fields, level)

    # ------------------------------------------------------------------ accepted (§3.6.2.2)

    def _accepted(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        self._pending = None
        self._failures = self._resyncs = 0
        self._last_accepted_id = pending.identification
        self._discovery.registered()  # §2.4: search at the initial rate next time
        relay = self._relay(pending.attachment)
        if relay is not None:
            relay.challenge_errors, relay.refused_challenge = 0, None
        actions: list[Action] = [CancelTimer(SEND_TIMER)]
        if pending.deregister:
            self.counters["deregistered"] += 1
            self._registration = None
            actions += [CancelTimer(RENEW_TIMER), CancelTimer(EXPIRE_TIMER)]
            return actions + [self._decision(pending, reply.code, "deregistered at home")]
        self.counters["registered"] += 1
        granted = min(reply.lifetime, pending.lifetime)  # never longer than asked for (§3.4)
        infinite = granted == reg.LIFETIME_INFINITE
        expires = None if infinite else pending.first_sent + granted  # counted from when it was sent
        self._registration = Registration(pending.attachment, pending.home_agent, pending.flags, granted, expires)
        actions += self._apply_dataplane(self._desired_dataplane(pending.attachment, pending.flags, pending.home_agent))
        if expires is None:
            actions += [CancelTimer(RENEW_TIMER), CancelTimer(EXPIRE_TIMER)]
        else:
            renew = expires - min(float(self.config.reregister_margin), granted / 2)
            actions += [ArmTimer(RENEW_TIMER, max(renew, now + MIN_REQUEST_INTERVAL)), ArmTimer(EXPIRE_TIMER, expires)]
        return actions + [self._decision(pending, reply.code, f"registered for {granted} s")]

    def _renew(self, now: float) -> list[Action]:
        """§3.6.2.2: re-register before the lifetime runs out, where we are if that still works."""
        reg_ = self._registration
        if reg_ is None or self._target != reg_.attachment or (self._pending is not None):
            return []
        self.counters["renewal"] += 1
        if self._target.kind != HOME and not self._discovery.still_valid(self._target, now):
            return self._reconsider(now, "renewal: attachment no longer valid")
        return self._begin(now)

    def _expire(self, now: float) -> list[Action]:
        reg_ = self._registration
        if reg_ is None or reg_.expires_at is None or reg_.expires_at > now:
            return []
        self.counters["registration.expired"] += 1
        self._registration = None
        fields = {"node": self.config.home_address, "care_of": reg_.attachment.care_of}
        actions: list[Action] = [Log("registration-expired", fields, "warning")]
        if self._pending is None and self._target is not None:
            actions += self._begin(now)
        return actions

    # ------------------------------------------------------------------ denied (§3.6.2.3)

    def _denied(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        code = reply.code
        t_set = bool(pending.flags & reg.FLAG_T)
        if code in (codes.FA_LIFETIME_TOO_LONG, codes.HA_RESOURCES):
            return self._repair_lifetime(reply, pending, now)
        if code == codes.HA_ID_MISMATCH:
            return self._resynchronise(reply, pending, now)
        if code in (codes.FA_REVERSE_TUNNEL_UNAVAILABLE, codes.HA_REVERSE_TUNNEL_UNAVAILABLE) or (
            t_set and code in (codes.FA_POORLY_FORMED_REQUEST, codes.HA_POORLY_FORMED)
        ):
            return self._repair_reverse(pending, code, now, False)
        if code in (codes.FA_REVERSE_TUNNEL_MANDATORY, codes.HA_REVERSE_TUNNEL_MANDATORY):
            return self._repair_reverse(pending, code, now, True)
        if code in (codes.FA_ENCAP_UNAVAILABLE, codes.HA_ENCAP_UNAVAILABLE):
            return self._repair_encapsulation(pending, code, now)
        if code == codes.HA_UNKNOWN_HA:
            return self._repair_home_agent(reply, pending, now)
        if code in _CHALLENGE_ERRORS:
            return self._repair_challenge(pending, code, now)
        if code in _TRANSIENT:
            return self._retry_later(pending, code, now, "transient: retry later")
        return self._hold_down(pending, code, now, "cannot be repaired")

    def _adapt_for(self, pending: _Pending, code: int) -> Adaptation:
        """The FA's adaptation for FA codes when registering through one, else the HA's."""
        relay = self._relay(pending.attachment)
        return relay.adapt if relay is not None and not self._from_home_agent(code) else self._ha_adapt

    def _retry_now(self, pending: _Pending, code: int, now: float, reason: str) -> list[Action]:
        """Send a new, repaired request as soon as the once-per-second limit allows (§3.6.3)."""
        log = self._decision(pending, code, reason)
        self._pending = _Pending(pending.attachment, pending.deregister)
        return [log, *self._transmit(now)]

    def _repair_lifetime(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        """69: the reply's Lifetime is the most the FA accepts; 130: ask the HA for less."""
        if reply.code == codes.FA_LIFETIME_TOO_LONG:
            allowed = reply.lifetime if 0 < reply.lifetime < pending.lifetime else 0
        else:
            allowed = pending.lifetime // 2
        if allowed <= 0:
            return self._hold_down(pending, reply.code, now, "no acceptable lifetime")
        self._adapt_for(pending, reply.code).lifetime_cap = allowed
        if reply.code == codes.HA_RESOURCES:
            return self._retry_later(pending, reply.code, now, f"retry later with lifetime {allowed}")
        return self._retry_now(pending, reply.code, now, f"retry with lifetime {allowed}")

    def _resynchronise(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        """133 (§3.6.2.3, §5.7): timestamps take the HA's clock from the reply's high 32 bits (the
        low 32 bits were checked already); nonces took the new nonce with the reply."""
        self._resyncs += 1
        if self._resyncs > MAX_RESYNC:
            self._resyncs = 0
            return self._hold_down(pending, reply.code, now, "identification keeps mismatching")
        if self._home_sa_replay() != "nonce":
            self._clock_offset = clock_offset_from_reply(reply.identification, now)
            self._prev_id = self._last_accepted_id  # the HA's last accepted value is the floor
        self.counters["resync"] += 1
        return self._retry_now(pending, reply.code, now, f"resynchronised, clock offset {self._clock_offset} s")

    def _repair_reverse(self, pending: _Pending, code: int, now: float, want: bool) -> list[Action]:
        """RFC 3024 §4.1.2 / §3.4: drop T after 74/137 (or 70/134 with T); set it after 75/138."""
        adapt = self._adapt_for(pending, code)
        if adapt.reverse is (not want) or bool(pending.flags & reg.FLAG_T) == want:
            return self._hold_down(pending, code, now, "reverse tunnelling cannot be agreed")
        adapt.reverse = want
        return self._retry_now(pending, code, now, "retry with T set" if want else "retry without T")

    def _repair_encapsulation(self, pending: _Pending, code: int, now: float) -> list[Action]:
        """72/139: fall back to IP-in-IP, which every agent supports (RFC 2003)."""
        if encap_for_flags(pending.flags) == "ipip":
            return self._hold_down(pending, code, now, "encapsulation refused even as IP-in-IP")
        self._adapt_for(pending, code).ipip_only = True
        return self._retry_now(pending, code, now, "retry with IP-in-IP")

    def _repair_home_agent(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        """136: the reply's Home Agent field is the unicast address to use (§3.6.2.3)."""
        ha = reply.home_agent
        if ha in (UNSPECIFIED, LIMITED_BROADCAST, pending.home_agent) or ha.startswith(("224.", "239.")):
            return self._hold_down(pending, reply.code, now, "no usable home agent address in the reply")
        self._ha_override = ha
        if self._home_sa_replay() != "nonce":
            self._clock_offset = clock_offset_from_reply(reply.identification, now)
        return self._retry_now(pending, reply.code, now, f"retry with home agent {ha}")

    def _repair_challenge(self, pending: _Pending, code: int, now: float) -> list[Action]:
        """RFC 3012 §3.1: use a new challenge (from the reply, or the next advertisement)."""
        relay = self._relay(pending.attachment)
        if relay is None:
            return self._hold_down(pending, code, now, "challenge error without a foreign agent")
        relay.challenge_errors += 1
        if relay.challenge_errors > MAX_CHALLENGE_RETRIES:
            relay.challenge_errors = 0
            return self._hold_down(pending, code, now, "challenge keeps failing")
        if pending.challenge is None:
            return self._retry_later(pending, code, now, "challenge demanded but none advertised: retry")
        if relay.challenge is not None and relay.challenge != pending.challenge:
            return self._retry_now(pending, code, now, "retry with the challenge from the reply")
        relay.refused_challenge = pending.challenge
        self._pending = _Pending(pending.attachment, pending.deregister)
        return [self._decision(pending, code, "waiting for a fresh challenge")]

    def _retry_later(self, pending: _Pending, code: int, now: float, reason: str) -> list[Action]:
        """Back off: 1, 2, 4 ... s up to the retransmission cap, then try the same place again."""
        self._failures += 1
        delay = min(self.config.max_retransmit_interval, 2.0 ** (self._failures - 1))
        self._pending = _Pending(pending.attachment, pending.deregister)
        return [self._decision(pending, code, f"{reason} in {delay:g} s"), ArmTimer(SEND_TIMER, now + delay)]

    def _hold_down(self, pending: _Pending, code: int, now: float, reason: str) -> list[Action]:
        """A denial we cannot repair: leave the FA's care-of address / the FA / the HA alone for a
        while (§2.4: try the FA's next care-of address first), and go elsewhere if we can."""
        level = "warning" if code in _AUTH_FAILURES else "info"  # §3.6.2.1: security exception
        relay = self._relay(pending.attachment)
        if relay is not None and code in _FA_FAULT:
            return self._leave_agent(relay, pending, code, now, reason, level)
        self._ha_hold_until = now + HOLDDOWN
        self._pending = _Pending(pending.attachment, pending.deregister)
        log = self._decision(pending, code, f"{reason}: home agent held down for {HOLDDOWN:g} s", level)
        return [log, ArmTimer(SEND_TIMER, self._ha_hold_until)]

    def _leave_agent(
        self, relay: HeardAgent, pending: _Pending, code: int, now: float, reason: str, level: str
    ) -> list[Action]:
        relay.coa_index += 1
        if relay.coa_index < len(relay.care_of_addresses) and pending.attachment.kind == FOREIGN:
            log = self._decision(pending, code, f"{reason}: next care-of address {relay.care_of}", level)
            self._target = None
            return [log, *self._reconsider(now, "next care-of address", prefer=relay)]
        relay.coa_index = 0
        relay.hold_until = now + HOLDDOWN
        self._target = None
        self._pending = None
        log = self._decision(pending, code, f"{reason}: agent {relay.address} held down for {HOLDDOWN:g} s", level)
        return [log, *self._reconsider(now, f"denied by {relay.address}")]

    # ------------------------------------------------------------------ data plane (§4.2.1)

    def _desired_dataplane(self, att: Attachment, flags: int, ha: str) -> _DataPlane:
        home, iface = self.config.home_address, att.interface
        if att.kind == HOME:
            gateway = self.config.home_gateway
            return _DataPlane(default_route=SetDefaultRoute(gateway, iface) if gateway else None)
        if att.kind == FOREIGN:
            relay = self._relay(att)
            if relay is None:
                return self._installed
            # §4.2.1: the FA as first-hop router, its MAC from the advertisement (no ARP, §4.6)
            return _DataPlane(
                host_route=AddHostRoute(relay.address, iface, relay.lladdr),
                default_route=SetDefaultRoute(relay.address, iface, source=home),
            )
        encap = encap_for_flags(flags)
        link = self._discovery.links[iface]
        gateway = link.gateway
        reverse = bool(flags & reg.FLAG_T)
        return _DataPlane(
            default_route=SetDefaultRoute(gateway, iface, source=home) if gateway else None,
            tunnel=AddTunnel(att.care_of, ha, encap),  # we decapsulate the HA's tunnel (D bit)
            reverse=AddReverseTunnel(home, att.care_of, ha, encap) if reverse else None,
            unbound=AddUnboundRoute(home, att.care_of, ha, encap, self._visited_link(link)) if reverse else None,
        )

    @staticmethod
    def _visited_link(link: Link) -> tuple[str, ...]:
        """The prefixes a co-located node reaches on its visited link, not through the reverse tunnel
        (RFC 3024 §5.1 tunnels what goes beyond it): the link's prefix and an off-prefix gateway."""
        out: list[str] = []
        net = None
        if link.address is not None and link.prefix_length is not None:
            net = ipaddress.IPv4Network(f"{link.address}/{link.prefix_length}", strict=False)
            out.append(str(net))
        if link.gateway is not None and (net is None or ipaddress.IPv4Address(link.gateway) not in net):
            out.append(f"{link.gateway}/32")
        return tuple(out)

    def _apply_dataplane(self, want: _DataPlane) -> list[Action]:
        """The actions that turn what is installed into `want` (removals first)."""
        have, actions = self._installed, []
        if have.unbound is not None and have.unbound != want.unbound:
            actions.append(RemoveUnboundRoute(have.unbound.source))
        if have.reverse is not None and have.reverse != want.reverse:
            actions.append(RemoveReverseTunnel(have.reverse.source))
        if have.tunnel is not None and have.tunnel != want.tunnel:
            gone = have.tunnel
            actions.append(RemoveTunnel(gone.local, gone.remote, gone.encap))
        if have.host_route is not None and have.host_route != want.host_route:
            actions.append(RemoveHostRoute(have.host_route.dest, have.host_route.interface))
        if want.host_route is not None and want.host_route != have.host_route:
            actions.append(want.host_route)
        if want.default_route != have.default_route:
            actions.append(want.default_route or SetDefaultRoute(None, None))
        if want.tunnel is not None and want.tunnel != have.tunnel:
            actions.append(want.tunnel)
        if want.reverse is not None and want.reverse != have.reverse:
            actions.append(want.reverse)
        if want.unbound is not None and want.unbound != have.unbound:
            actions.append(want.unbound)
        self._installed = want
        return actions

    def _teardown_interface(self, interface: str) -> list[Action]:
        """Remove what was installed for an attachment on `interface` (the link went away)."""
        reg_ = self._registration
        on_it = reg_ is not None and reg_.attachment.interface == interface
        default_route = self._installed.default_route
        if not on_it and not (default_route is not None and default_route.interface == interface):
            return []
        return self._apply_dataplane(_DataPlane())
