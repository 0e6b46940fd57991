"""Home agent state machine (RFC 5944 §3.8, §4.6; RFC 3024 §4.3).

Sans-IO: `on_packet` takes a received registration request and the current time and returns
the actions that carry out the decision, in order: data-plane changes, the record to persist,
then the reply. Validity checks follow the order of §3.8.2.1 (authentication, identification,
foreign agent authentication), then the administrative checks of §3.8.2.3 and §3.8.3.2.

An SA authenticates one identity: an address SA only its own home address, an NAI SA only the
addresses that NAI is configured to hold (RFC 2794; `HomeAgentConfig.holds`). A request whose
authenticator verifies with an SA that does not hold the claimed home address is refused with 131
before any state is touched, and the agent's own, network and broadcast addresses are never bound.

SAs may also come from an AAA server (`aaa`, protocol/aaa.py): a request from a served node with no
SA in the keys file is held while its SA is looked up (a `LookupSA` action), then processed like
any other once `on_sa_lookup` brings it; other nodes are served meanwhile.
"""

from __future__ import annotations

import heapq
import operator
import random
import sys
from collections import Counter
from dataclasses import dataclass, fields
from typing import Any

from mipd.ipv4 import UNSPECIFIED
from mipd.protocol import codes
from mipd.protocol.aaa import SWEEP_TIMER, UNREACHABLE, AaaCache, AaaSettings, LookupResult
from mipd.protocol.actions import (
    Action,
    AddTunnel,
    AddTunnelRoute,
    ArmTimer,
    DeleteRecord,
    Log,
    Packet,
    RemoveTunnel,
    RemoveTunnelRoute,
    SendGratuitousArp,
    SendUDP,
    SetProxyArp,
    StoreRecord,
)
from mipd.protocol.advertiser import Advertiser, AdvertLink, AdvertSettings, check_timing
from mipd.protocol.config import HomeAgentConfig, encap_for_flags
from mipd.protocol.ratelimit import DenialGate
from mipd.security import SecurityAssociation, SecurityAssociations, sign, verify
from mipd.security.replay import ReplayState, id_newer
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.errors import WireError
from mipd.wire.extensions import FHAE, GEN_AUTH, MHAE, MN_FA_CHALLENGE, MN_NAI, AuthExtension, GenAuthExtension

EXPIRY_TIMER = "binding-expiry"
BINDINGS = "bindings"  # record kind: the bindings of one home address, one record (see _bindings_record)
ADVERTISE_TIMER = "ha-advertise"  # key (ADVERTISE_TIMER, home interface)
DENIAL_TIMER = "ha-denials-repeated"  # the summary of denial lines left out (ratelimit.DenialGate)
RESERVED_FLAGS = reg.FLAG_R | reg.FLAG_X
BROADCAST = "255.255.255.255"
INFINITE = float("inf")


@dataclass(slots=True)
class Binding:
    """One mobility binding (§3.8.1): home address -> care-of address until `expires`."""

    home_address: str
    care_of_address: str
    lifetime: int  # granted, seconds (0xffff = infinite)
    expires: float
    identification: int  # from the Registration Reply
    encap: str
    reverse: bool  # T granted (RFC 3024)
    source: str  # who sent the request (foreign agent or colocated MN)
    nai: str | None = None
    simultaneous: bool = False

    def remaining(self, now: float) -> int:
        return reg.lifetime_left(self.expires, now)


class _Discard(Exception):
    pass


class _Denied(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


@dataclass(slots=True)
class _Request:
    """One registration request on its way through RFC 5944 §3.8.2 and what the checks found so far:
    the context _deny, _register, _deregister and _reply share (as ForeignAgent keeps its _Pending)."""

    req: reg.RegistrationRequest
    pkt: Packet
    now: float
    node: str  # who replay state and log lines are kept under: the home address, else the NAI
    nai: str | None = None  # the NAI the node's authenticator covers (RFC 2794 §2)
    sa: SecurityAssociation | None = None  # the MN-HA SA that authenticated it (§3.8.2.1 a)
    fa_sa: SecurityAssociation | None = None  # the FA-HA SA whose FHAE verified (§3.8.2.1 c)


# One uncommitted registration (track_commits): home address, its bindings' values (_saved) and the node's
# last accepted Identification before it, and the request (what a 130 reply needs).
_Uncommitted = tuple[str, tuple[tuple[Any, ...], ...], int | None, _Request]
_binding_values = operator.attrgetter(*(f.name for f in fields(Binding)))


def _saved(bindings: list[Binding]) -> tuple[tuple[Any, ...], ...]:
    """The values of `bindings` as they are now (bindings are renewed and moved in place): plain tuples, which the
    garbage collector stops tracking, as each value is a string, number or None."""
    return tuple(_binding_values(b) for b in bindings)


class _LaterFHAEs:
    """The FHAEs of a request decoded only through its authorization-enabling extension: what
    follows is decoded when first asked for, i.e. once the authenticator verified (§3.8.2.1: the
    FHAE, c/d, is checked after a); a rest that does not decode discards the request (_Discard)."""

    __slots__ = ("_ha", "_req", "_found")

    def __init__(self, ha: HomeAgent, req: reg.RegistrationRequest, found: list[AuthExtension]) -> None:
        self._ha = ha
        self._req = req
        self._found = found

    def _all(self) -> list[AuthExtension]:
        if self._req.pending:
            if not self._ha._decode_rest(self._req):
                raise _Discard
            self._found = [e for e in self._req.extensions if e.type == FHAE]  # type: ignore[misc]
        return self._found

    def __len__(self) -> int:
        return len(self._all())

    def __bool__(self) -> bool:
        return bool(self._all())

    def __getitem__(self, index: int) -> AuthExtension:
        return self._all()[index]


COMPACT_SLACK = 1024  # stale expiry entries tolerated beyond one per node before the heap is rebuilt


class HomeAgent:
    """Registration processing and binding table of one home agent.

    `copies` is a capability of the data plane the runtime drives: whether it can tunnel a
    separate copy of each datagram to each care-of address of a node (RFC 5944 §3.6.1.2,
    §4.2.3). Without it simultaneous bindings are not granted, whatever `simultaneous_bindings`
    says: a request with S is accepted with code 1 and replaces the node's bindings (§3.4, §3.8.3).
    """

    def __init__(self, config: HomeAgentConfig, sas: SecurityAssociations, rng: random.Random,
                 *, copies: bool = True, aaa: AaaSettings | None = None) -> None:
        self.config = config
        self.copies = copies
        self.sas = sas
        self.counters: Counter[str] = Counter()
        self.replay = ReplayState(rng)
        self._bindings: dict[str, list[Binding]] = {}
        # heap of (due, home): each node with bindings has an entry due no later than its earliest expiry; a
        # re-registration or a move pushes nothing (the entry, when due, is pushed again at the node's earliest
        # expiry), entries of nodes gone are skipped when due (see _compact_expiry)
        self._expiry: list[tuple[float, str]] = []
        self._armed = INFINITE
        self._journal: list[_Uncommitted] | None = None  # what uncommitted registrations changed (track_commits)
        self.advertiser = Advertiser(rng, self.counters, ADVERTISE_TIMER)
        self.advertiser.configure(*_advertising(config), 0.0)
        self.denials = DenialGate(config.limits, self.counters, DENIAL_TIMER)
        self.aaa = AaaCache(aaa, self.counters) if aaa is not None else None  # SAs from an AAA server

    # ------------------------------------------------------------------ queries

    def bindings(self) -> list[Binding]:
        return [b for bs in self._bindings.values() for b in bs]

    def bindings_of(self, home_address: str) -> list[Binding]:
        return list(self._bindings.get(home_address, ()))

    def __len__(self) -> int:
        return len(self._bindings)

    # ------------------------------------------------------------------ events

    def start(self, now: float) -> list[Action]:
        """Begin advertising on the home link (§2.3), when configured to."""
        return self.advertiser.start(now)

    def on_packet(self, pkt: Packet, now: float) -> list[Action]:
        """A UDP 434 datagram for the home agent (§3.8.2), or an ICMP solicitation (§2.3). Never raises.

        Before the authenticator is checked (§3.8.2.1) the work is bounded: a datagram longer than
        `limits.message_size` is discarded unread, at most `limits.extensions` extensions are
        decoded, and only through the authorization-enabling one (the rest: _LaterFHAEs).
        """
        if pkt.icmp:
            return self.advertiser.on_icmp(pkt, now, self._advert_flags())
        data = pkt.data
        limits = self.config.limits
        if len(data) > limits.message_size:
            self.counters["discard.oversize"] += 1
            return []
        if data[:1] == b"\x03":
            self.counters["discard.not_a_request"] += 1
            return []
        try:
            req = reg.decode_request(data, limits.extensions, until_auth=True)
        except WireError as e:
            self.counters[e.counter] += 1  # §1.9: an unknown extension 0-127 is silently discarded too
            return []
        self.counters["rx.request"] += 1
        return self._guarded(req, pkt, now)

    def _guarded(self, req: reg.RegistrationRequest, pkt: Packet, now: float) -> list[Action]:
        try:
            actions = self._process(req, pkt, now)
        except Exception as e:  # a bug must not take the agent down: count it and drop the packet
            self.counters["discard.internal_error"] += 1
            actions = [Log("internal-error", {"error": repr(e), "home": req.home_address}, "error")]
        if self.aaa is not None and self.aaa.outbox:
            actions += self.aaa.drain()  # lookups asked for, and their log lines
        return actions

    def on_sa_lookup(self, result: LookupResult, now: float) -> list[Action]:
        """The outcome of a LookupSA: cache the SAs and process the requests held for them (RFC 5944
        §3.8.2.1 from the start, with `now`); on failure they are dropped, counted and logged once per
        node and interval (§3.8.2.1 a: no SA with the node, silently discarded)."""
        if self.aaa is None:
            return []
        held, accepted = self.aaa.on_result(result, now)
        actions = self.aaa.drain()
        for req, pkt in held:
            if accepted:
                actions += self._guarded(req, pkt, now)
            elif result.outcome != UNREACHABLE:  # no answer is no refusal: the node retransmits
                actions += self._refuse_unknown(req, pkt, now)
        return actions

    def _refuse_unknown(self, req: reg.RegistrationRequest, pkt: Packet, now: float) -> list[Action]:
        """A request AAA refused an SA for (Access-Reject, a malformed answer). With no SA the
        node's request is silently discarded (§3.8.2.1 a); relayed by a foreign agent whose FHAE verifies, the
        agent is answered 131 (§3.8.2.1: "If there is a valid Foreign-Home authentication extension, the home
        agent MUST send a Registration Reply with Code 131"), carrying that FHAE only: no MHAE can be made."""
        _auth, _nai, fhaes = self._scan(req)
        try:
            fa_sa = self._fa_sa(req, pkt, fhaes) if fhaes else None
        except (_Discard, _Denied):
            fa_sa = None
        if fa_sa is None:
            return []
        self.counters[f"denied.{codes.HA_MN_AUTH}"] += 1
        send, line, gate = self.denials.admit(pkt.source, now)
        out: list[Action] = list(gate)
        if line:
            fields = {"node": req.home_address, "coa": req.care_of_address, "code": codes.HA_MN_AUTH,
                      "reason": "no SA from AAA"}
            out.append(Log("registration-denied", fields))
        if send:
            request = _Request(req, pkt, now, req.home_address, fa_sa=fa_sa)
            out.append(self._reply(request, codes.HA_MN_AUTH, req.lifetime, req.identification, None))
        return out

    def drop_sas(self, identity: str | None) -> int:
        """Forget SAs fetched from AAA for `identity` (None: all), so the next registration fetches them."""
        return self.aaa.drop(identity) if self.aaa is not None else 0

    def on_timer(self, key: Any, now: float) -> list[Action]:
        """Binding lifetime expiry (§3.8.2.2: "MUST delete its entry"); no message is sent (§3.8).
        Also the periodic advertisement on the home link (§2.3)."""
        if self.advertiser.is_timer(key):
            return self.advertiser.on_timer(key, now, self._advert_flags())
        if key == DENIAL_TIMER:
            return self.denials.flush(now)
        if key == SWEEP_TIMER and self.aaa is not None:
            return self.aaa.sweep(now)
        if key != EXPIRY_TIMER:
            return []
        self._armed = INFINITE
        actions: list[Action] = []
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _due, home = heapq.heappop(heap)
            for b in [b for b in self._bindings.get(home, ()) if b.expires <= now]:
                self.counters["binding.expired"] += 1
                actions += self._remove_bindings(home, [b], None)
                actions.append(Log("binding-expired", {"home": home, "coa": b.care_of_address}))
            due = min((b.expires for b in self._bindings.get(home, ())), default=INFINITE)
            if due != INFINITE:  # re-registered or moved since: due again at the node's earliest expiry
                heapq.heappush(heap, (due, home))
        self._arm(actions)
        return actions

    def on_config(self, config: HomeAgentConfig, sas: SecurityAssociations, now: float) -> list[Action]:
        """Apply new settings (SAs, filters, lifetimes) keeping live bindings (reload)."""
        self.config = config
        self.sas = sas
        self.denials.configure(config.limits, now)
        actions = self.advertiser.configure(*_advertising(config), now)
        for home, bs in list(self._bindings.items()):
            for b in bs:
                if b.lifetime != reg.LIFETIME_INFINITE and b.lifetime > config.max_lifetime:
                    b.lifetime = config.max_lifetime  # shorten only, never extend (§3.8.2.2)
                    b.expires = min(b.expires, now + config.max_lifetime)
                    heapq.heappush(self._expiry, (b.expires, home))
        self._armed = INFINITE
        self._arm(actions)
        return actions

    def restore(self, bindings: list[Binding], now: float, replay: dict[str, int] | None = None) -> list[Action]:
        """Re-install bindings loaded from storage after a restart; expired ones are dropped.

        `replay` is the last accepted Identification per node, as persisted from the
        StoreRecord("replay", (node, identification)) actions; a binding's own identification
        (the accepted timestamp) counts too, whichever is newer, so a replay is still refused (§5.7).
        """
        for node, identification in (replay or {}).items():
            self.replay.seed(node, identification)
        for b in bindings:
            last = self.replay.last_accepted(b.home_address)
            if last is None or id_newer(b.identification, last):
                self.replay.seed(b.home_address, b.identification)
        actions: list[Action] = []
        loaded: dict[str, int] = {}  # bindings loaded per home address
        for b in bindings:
            loaded[b.home_address] = loaded.get(b.home_address, 0) + 1
            if b.expires <= now:
                actions.append(self._replay_record(b.home_address))  # the row outlives the binding (§5.7)
                self.counters["binding.expired_on_restore"] += 1
                continue
            # without copies (a data plane that cannot duplicate, §4.2.3) the last one loaded wins
            actions += self._install(b, self._bindings.get(b.home_address, []), keep_others=self.copies)
            if b.expires != INFINITE:
                heapq.heappush(self._expiry, (b.expires, b.home_address))
            self.counters["binding.restored"] += 1
        for home, count in loaded.items():  # expired or replaced ones left: the node's record without them
            if len(self._bindings.get(home, ())) != count:
                actions.append(self._bindings_record(home))
        self._arm(actions)
        return actions

    def shutdown(self) -> list[Action]:
        """Remove every tunnel, route and proxy ARP entry this home agent installed."""
        actions = self.advertiser.stop()
        for home, bs in list(self._bindings.items()):
            actions += self._remove_bindings(home, list(bs), None, forget=False)
        return actions

    # ------------------------------------------------------------------ commits (runtime: group commit)

    def track_commits(self) -> None:
        """Remember what each registration changes until `committed` says it is durable, so that
        `on_commit_failed` can undo it (the runtime persists a batch's StoreRecords before its replies)."""
        self._journal = []

    def committed(self) -> None:
        """The records of every registration so far are durable: nothing left to undo."""
        if self._journal:
            self._journal.clear()

    def on_commit_failed(self, now: float) -> list[Action]:
        """The records of the registrations since the last commit could not be written (disk full):
        put their bindings, expiry entries and replay state back as they were, with the data-plane
        changes that takes, and answer each of those requests with 130, insufficient resources
        (RFC 5944 §3.4, §3.8.2.3) instead of the acceptance that was withheld. No records."""
        journal = self._journal
        if not journal:
            return []
        earliest: dict[str, tuple[tuple[Any, ...], ...]] = {}
        for home, before, last, request in reversed(journal):  # the first change of each wins
            earliest[home] = before
            self.replay.restore_last(request.node, last)
        actions: list[Action] = []
        for home, before in earliest.items():
            actions += self._revert(home, [Binding(*values) for values in before])
        for _home, _before, _last, request in journal:
            req, sa = request.req, request.sa
            assert sa is not None  # journalled only once authenticated
            self.counters["rolled_back.registration"] += 1
            self.counters[f"denied.{codes.HA_RESOURCES}"] += 1
            reply_id = self.replay.reply_identification(request.node, sa.replay, req.identification, now, True,
                                                        record=False)
            fields = {"node": request.node, "coa": req.care_of_address, "code": codes.HA_RESOURCES,
                      "reason": "not stored (state database write failed), undone"}
            actions.append(Log("registration-denied", fields))
            actions.append(self._reply(request, codes.HA_RESOURCES, req.lifetime, reply_id, sa))
        journal.clear()
        self._arm(actions)
        return actions

    def _revert(self, home: str, before: list[Binding]) -> list[Action]:
        """Make `home`'s bindings `before` again; only the data plane that differs is touched."""
        current = self._bindings.get(home, [])
        for b in before:  # their expiry entries may have gone in a compaction: one more is harmless
            if b.expires != INFINITE:
                heapq.heappush(self._expiry, (b.expires, home))
        if {(b.care_of_address, b.encap) for b in current} == {(b.care_of_address, b.encap) for b in before}:
            if before:
                self._bindings[home] = before
            else:
                self._bindings.pop(home, None)
            return []
        actions = self._remove_bindings(home, list(current), None, forget=False) if current else []
        for b in before:
            actions += self._install(b, self._bindings.get(home, []), keep_others=True)
        return actions

    # ------------------------------------------------------------------ request processing

    def _process(self, req: reg.RegistrationRequest, pkt: Packet, now: float) -> list[Action]:
        auth, nai, fhaes = self._scan(req)
        request = _Request(req, pkt, now, req.home_address if req.home_address != UNSPECIFIED else (nai or ""), nai)
        if auth is None:
            self.counters["discard.no_auth_extension"] += 1  # §3.8.2.1 a
            return []
        sa = self._mn_sa(req.home_address, nai, auth.spi)
        if sa is None:
            if not (self._peer_sas(req.home_address) or (nai and self._peer_sas(nai))):
                if self.aaa is not None and self.config.serves(req.home_address, nai):
                    self.aaa.hold(nai or req.home_address, (req, pkt), now)  # an NAI names the node first
                    return []
                self.counters["discard.no_sa"] += 1  # §3.8.2.1 a: no SA with this node at all
                return []
            return self._deny(request, codes.HA_MN_AUTH, "unknown SPI")
        used = verify(sa, req.raw, auth)
        if used is None:
            self.counters["security.mn_auth_failed"] += 1
            return self._deny(request, codes.HA_MN_AUTH, "bad authenticator")
        request.sa = sa
        if used != sa.algorithm:
            self.counters["security.auth_fallback"] += 1
        if req.home_address != UNSPECIFIED and not self.config.holds(sa.peer, req.home_address):
            # the key is valid, but not for this address: another node's, unconfigured, or ours
            self.counters["security.sa_not_for_home_address"] += 1
            reason = f"SA of {sa.peer} (SPI {sa.spi}) does not authenticate home address {req.home_address}"
            return self._deny(request, codes.HA_MN_AUTH, reason)
        # §3.8.2.1 b: identification, in the context of the SA that authenticated the request
        if not self.replay.check(request.node, sa.replay, req.identification, now, sa.replay_window):
            self.counters["security.replay"] += 1
            return self._deny(request, codes.HA_ID_MISMATCH, "identification mismatch")
        try:
            request.fa_sa = self._fa_sa(req, pkt, fhaes)
        except _Discard:
            return []  # §3.8.2.1 d: FHAE without an SA with its sender
        except _Denied as d:
            return self._deny(request, d.code, d.reason)
        try:
            self._admit(req, pkt, nai)
        except _Denied as d:
            return self._deny(request, d.code, d.reason)
        if req.lifetime == reg.LIFETIME_DEREGISTER:
            return self._deregister(request, sa)
        return self._register(request, sa)

    def _scan(self, req: reg.RegistrationRequest) -> tuple[AuthExtension | GenAuthExtension | None, str | None, Any]:
        """One pass over the extensions: the authorization-enabling one (the first MHAE, or an
        MN-AAA extension, RFC 3012 §6), the NAI (RFC 2794), and every FHAE (those after the
        authorization-enabling one decoded when first asked for: _LaterFHAEs)."""
        auth = None
        nai = None
        fhaes = []
        for e in req.extensions:
            t = e.type
            if (t == MHAE or t == GEN_AUTH) and auth is None:
                auth = e
            elif t == MN_NAI and nai is None and auth is None:  # only an authenticated NAI counts
                nai = e.nai  # type: ignore[union-attr]
            elif t == FHAE:
                fhaes.append(e)
        if req.pending:
            return auth, nai, _LaterFHAEs(self, req, fhaes)  # type: ignore[arg-type]
        return auth, nai, fhaes  # type: ignore[return-value]

    def _decode_rest(self, req: reg.RegistrationRequest) -> bool:
        """Decode what follows the authorization-enabling extension; False (counted) if it does not decode."""
        try:
            reg.decode_rest(req, self.config.limits.extensions)
        except WireError as e:
            self.counters[e.counter] += 1
            return False
        return True

    def _mn_sa(self, home: str, nai: str | None, spi: int) -> SecurityAssociation | None:
        sa = self.sas.get(home, spi)
        if sa is None and nai:
            sa = self.sas.get(nai, spi)
        if sa is None and self.aaa is not None and not self._file_peer(home, nai):
            sa = self.aaa.get(home, spi) or (self.aaa.get(nai, spi) if nai else None)
        return sa

    def _file_peer(self, home: str, nai: str | None) -> bool:
        """Does the keys file hold an SA for this node? Then no SA from AAA counts for it."""
        return self.sas.has_peer(home) or bool(nai and self.sas.has_peer(nai))

    def _peer_sas(self, peer: str) -> list[SecurityAssociation]:
        """The SAs with `peer`: the keys file's, else those fetched from AAA."""
        return self.sas.for_peer(peer) or (self.aaa.for_peer(peer) if self.aaa is not None else [])

    def _aaa_used(self, sa: SecurityAssociation, home: str, now: float) -> None:
        """An SA from AAA authenticated an accepted request: its cache entry follows the node's bindings."""
        if self.aaa is not None and self.aaa.get(sa.peer, sa.spi) is sa:
            left = [b.expires for b in self._bindings.get(home, ())]
            self.aaa.used(sa.peer, now, max(left) if left else None)

    def _fa_sa(
        self, req: reg.RegistrationRequest, pkt: Packet, fhaes: list[AuthExtension]
    ) -> SecurityAssociation | None:
        """§3.8.2.1 c/d: the FA SA whose FHAE verified (None if no FA SA); raises _Discard/_Denied."""
        fa_sas = self.sas.for_peer(pkt.source) if pkt.source != req.home_address else []
        if not fa_sas:
            if fhaes:
                self.counters["discard.fhae_without_sa"] += 1
                raise _Discard
            return None
        if req.lifetime == reg.LIFETIME_DEREGISTER and not fhaes:
            return fa_sas[-1]  # §3.8.1: MAY skip the FHAE check on deregistration; reply with the newest
        if len(fhaes) != 1:
            self.counters["security.fa_auth_failed"] += 1
            raise _Denied(codes.HA_FA_AUTH, f"{len(fhaes)} FHAE present, exactly one required")
        fhae = fhaes[0]
        fa_sa = self.sas.get(pkt.source, fhae.spi)
        if fa_sa is None or verify(fa_sa, req.raw, fhae) is None:
            self.counters["security.fa_auth_failed"] += 1
            raise _Denied(codes.HA_FA_AUTH, "bad FHAE")
        return fa_sa

    def _admit(self, req: reg.RegistrationRequest, pkt: Packet, nai: str | None) -> None:
        """Administrative checks after authentication (§3.8.2.1 broadcast, §3.8.2.3, §3.8.3.2)."""
        cfg = self.config
        if pkt.dest == BROADCAST or pkt.dest in cfg.broadcasts:
            raise _Denied(codes.HA_UNKNOWN_HA, "sent to a broadcast address")
        if req.home_agent != cfg.address:
            raise _Denied(codes.HA_UNKNOWN_HA, f"home agent field {req.home_agent} is not us")
        if req.flags & RESERVED_FLAGS:
            raise _Denied(codes.HA_POORLY_FORMED, "reserved flag bits set")
        if req.home_address == UNSPECIFIED:
            raise _Denied(codes.HA_PROHIBITED, "dynamic home address allocation is not offered")
        if req.home_address in cfg.reserved:
            raise _Denied(codes.HA_PROHIBITED, "the home agent's own, a network or a broadcast address")
        if not cfg.serves(req.home_address, nai):
            raise _Denied(codes.HA_PROHIBITED, "not a mobile host served here")
        if req.lifetime == reg.LIFETIME_DEREGISTER:
            return
        filters = cfg.filters
        if not filters.roaming.permits(req.home_address, nai):
            raise _Denied(codes.HA_PROHIBITED, "roaming filter denies this node")
        if not filters.care_of.permits(req.care_of_address):
            raise _Denied(codes.HA_PROHIBITED, "care-of filter denies this address")
        if req.flags & reg.FLAG_M and req.flags & reg.FLAG_G:
            raise _Denied(codes.HA_ENCAP_UNAVAILABLE, "both minimal and GRE requested")
        if encap_for_flags(req.flags) not in cfg.encapsulations:
            raise _Denied(codes.HA_ENCAP_UNAVAILABLE, f"{encap_for_flags(req.flags)} not offered")
        if req.flags & reg.FLAG_T:
            if not cfg.reverse_tunnel:
                raise _Denied(codes.HA_REVERSE_TUNNEL_UNAVAILABLE, "reverse tunnelling not offered")
        elif cfg.reverse_tunnel_mandatory:
            raise _Denied(codes.HA_REVERSE_TUNNEL_MANDATORY, "reverse tunnelling is mandatory")

    def _register(self, request: _Request, sa: SecurityAssociation) -> list[Action]:
        """§3.8.2.2 with a nonzero lifetime: add (S) or replace the node's bindings (`sa`: request.sa)."""
        cfg = self.config
        req, pkt, now, node = request.req, request.pkt, request.now, request.node
        home, coa = req.home_address, req.care_of_address
        current = self._bindings.get(home, [])
        simultaneous = bool(req.flags & reg.FLAG_S) and cfg.simultaneous_bindings > 0 and self.copies
        others = [b for b in current if b.care_of_address != coa] if simultaneous else []
        if simultaneous and len(others) + 1 > cfg.simultaneous_bindings:
            reason = "simultaneous binding limit"
            return self._deny(request, codes.HA_TOO_MANY_BINDINGS, reason)
        if not current and cfg.binding_limit and len(self._bindings) >= cfg.binding_limit:
            return self._deny(request, codes.HA_RESOURCES, "binding limit reached")
        lifetime = req.lifetime if req.lifetime <= cfg.max_lifetime else cfg.max_lifetime
        for b in current:  # §3.8.2.2: a duplicate must not extend the lifetime originally granted
            if b.care_of_address == coa and b.identification == req.identification:
                lifetime = min(lifetime, b.remaining(now))
        code = codes.ACCEPTED_NO_SIMULTANEOUS if req.flags & reg.FLAG_S and not simultaneous else codes.ACCEPTED
        if self._journal is not None:  # the values at hand: `current` and its bindings change in place below
            self._journal.append((home, _saved(current), self.replay.last_accepted(node), request))
        reply_id = self.replay.reply_identification(node, sa.replay, req.identification, now, True)
        expires = INFINITE if lifetime == reg.LIFETIME_INFINITE else now + lifetime
        encap = encap_for_flags(req.flags)
        queued = INFINITE  # the node's earliest expiry: its entry in the heap is due no later
        refresh = False  # the node was bound at this care-of address already
        for b in current:
            if b.expires < queued:
                queued = b.expires
            if b.care_of_address == coa:
                refresh = True
        same_tunnel = refresh and len(current) == 1 and current[0].encap == encap
        if same_tunnel or (len(current) == 1 and not simultaneous):
            # the node's one binding is renewed (the same tunnel: nothing changes in the data plane) or moved (its
            # new tunnel replaces the old one) in place: no new object outlives the request (at a million nodes,
            # each one that does is walked by the garbage collector's collections of its older generations, and
            # a move made one per registration)
            binding = current[0]
            if same_tunnel:
                actions: list[Action] = []
            else:
                coa = sys.intern(coa)
                actions = self._retunnel(home, coa, encap, current, keep_others=False)[0]
                binding.care_of_address, binding.encap = coa, encap
            binding.lifetime, binding.expires, binding.identification = lifetime, expires, reply_id
            binding.reverse, binding.nai, binding.simultaneous = bool(req.flags & reg.FLAG_T), request.nai, simultaneous
            if binding.source != pkt.source:
                binding.source = sys.intern(pkt.source)
        else:
            # a fleet has far fewer care-of addresses and request sources (foreign agents) than nodes: one string
            # each, shared by their bindings and expiry entries, not one per binding (about 100 bytes less per binding)
            coa = sys.intern(coa)
            binding = Binding(home, coa, lifetime, expires, reply_id, encap, bool(req.flags & reg.FLAG_T),
                              sys.intern(pkt.source), request.nai, simultaneous)
            actions = self._install(binding, current, keep_others=simultaneous)
        if binding.expires < queued:  # new, or shortened: a later expiry (a renewal, a move) waits in the node's entry
            heapq.heappush(self._expiry, (binding.expires, home))
            if len(self._expiry) > 2 * len(self._bindings) + COMPACT_SLACK:
                self._compact_expiry()
            if binding.expires < self._armed:
                self._armed = binding.expires
                actions.append(ArmTimer(EXPIRY_TIMER, binding.expires))
        actions.append(self._bindings_record(home))
        if sa.replay != "timestamp":  # a timestamp is the binding's own identification: no second row
            actions.append(StoreRecord("replay", (node, req.identification)))  # §5.7: survives a restart
        self.counters["accepted.registration"] += 1
        self._aaa_used(sa, home, now)
        # a new binding or a move at info; a refresh of the same binding only at debug: a fleet re-registers
        # every few minutes, and an operator needs to see where nodes are, not each renewal (RFC 5944 §3.8.2.2)
        actions.append(Log("registration", {"node": node, "coa": coa, "code": code, "lifetime": lifetime},
                           "debug" if refresh else "info"))
        actions.append(self._reply(request, code, lifetime, reply_id, sa))
        return actions

    def _install(self, binding: Binding, current: list[Binding], keep_others: bool) -> list[Action]:
        """Data-plane changes for a new binding (:meth:`_retunnel`); puts it in the table (a node's one binding
        renewed or moved is changed in place by `_register` and does not come here). `current` is the table's list
        of the node (empty: none), changed in place."""
        actions, kept = self._retunnel(binding.home_address, binding.care_of_address, binding.encap, current,
                                       keep_others)
        if current:
            current[:] = [*kept, binding]
        else:
            self._bindings[binding.home_address] = [binding]
        return actions

    def _retunnel(self, home: str, coa: str, encap: str, current: list[Binding],
                  keep_others: bool) -> tuple[list[Action], list[Binding]]:
        """The data-plane changes that route `home` through a tunnel to `coa` with `encap`, given its bindings
        `current`, and which of those stay beside it.

        `keep_others` (S granted, §3.6.1.2): the node's other bindings stay and the new tunnel is
        routed beside theirs, so each care-of address gets a copy (§4.2.3); otherwise the new
        binding replaces them all.
        """
        cfg = self.config
        actions: list[Action] = []
        same = [b for b in current if b.care_of_address == coa]
        others = [b for b in current if b.care_of_address != coa]
        kept, dropped = (others, []) if keep_others else ([], others)
        replaced = False  # an exclusive route took the place of every other tunnel of `home`
        if not same or same[0].encap != encap:
            actions.append(AddTunnel(cfg.address, coa, encap))
            actions.append(AddTunnelRoute(home, cfg.address, coa, encap, exclusive=not kept))
            replaced = not kept
        for b in [*(b for b in same if b.encap != encap), *dropped]:
            if not replaced:
                actions.append(RemoveTunnelRoute(home, cfg.address, b.care_of_address, b.encap))
            actions.append(RemoveTunnel(cfg.address, b.care_of_address, b.encap))
        if not current and cfg.on_home_link(home):
            # §4.6: the node was at home; proxy ARP for it and announce our link-layer address.
            actions.append(SetProxyArp(home, cfg.interface, True))
            actions.append(SendGratuitousArp(home, cfg.interface, None))
        return actions, kept

    def _deregister(self, request: _Request, sa: SecurityAssociation) -> list[Action]:
        """§3.8.2.2 with lifetime 0: CoA = home address drops all bindings, else only that CoA."""
        req, pkt, now, node = request.req, request.pkt, request.now, request.node
        home, coa = req.home_address, req.care_of_address
        current = self._bindings.get(home, [])
        gone = list(current) if coa == home else [b for b in current if b.care_of_address == coa]
        if self._journal is not None:  # the values at hand: `current` changes in place below
            self._journal.append((home, _saved(current), self.replay.last_accepted(node), request))
        reply_id = self.replay.reply_identification(node, sa.replay, req.identification, now, True)
        actions = self._remove_bindings(home, gone, pkt.lladdr if pkt.source == home else None)
        actions.append(StoreRecord("replay", (node, req.identification)))  # §5.7: survives a restart
        self.counters["accepted.deregistration"] += 1
        self._aaa_used(sa, home, now)
        actions.append(Log("deregistration", {"node": node, "coa": coa, "code": 0, "removed": len(gone)}))
        actions.append(self._reply(request, codes.ACCEPTED, 0, reply_id, sa))
        return actions

    def _remove_bindings(
        self, home: str, gone: list[Binding], mn_lladdr: str | None, forget: bool = True
    ) -> list[Action]:
        """Tear down `gone` bindings of `home`; the tunnels of the other (simultaneous) bindings
        keep their copies (§4.2.3: an expired binding goes, the others MUST be retained); when
        none is left, stop proxy ARP (§4.6)."""
        cfg = self.config
        current = self._bindings.get(home, [])
        left = [b for b in current if b not in gone]
        actions: list[Action] = []
        if gone and not left:
            actions.append(RemoveTunnelRoute(home))
        elif gone:
            actions += [RemoveTunnelRoute(home, cfg.address, b.care_of_address, b.encap) for b in gone]
        for b in gone:
            actions.append(RemoveTunnel(cfg.address, b.care_of_address, b.encap))
        if gone and not left:
            if cfg.on_home_link(home):
                actions.append(SetProxyArp(home, cfg.interface, False))
                if mn_lladdr:  # §4.6: announce the node's own link-layer address again
                    actions.append(SendGratuitousArp(home, cfg.interface, mn_lladdr))
            self._bindings.pop(home, None)
        elif gone:
            self._bindings[home] = left
        if gone and forget:
            actions.append(self._bindings_record(home))
            actions.append(self._replay_record(home))  # the binding's row held it: keep it past the binding
        return actions

    def _deny(self, request: _Request, code: int, reason: str) -> list[Action]:
        """Reply with `code` (§3.8.2.3); the reply carries a valid MHAE (§3.8.2.1 a): signed with the SA
        that authenticated the request or, when authentication failed, one the node likely still has. A
        request whose extensions do not all decode is discarded instead (§1.9); replies and log lines are
        rate-limited per source and in all (ratelimit.DenialGate)."""
        req, pkt, now, node, sa = request.req, request.pkt, request.now, request.node, request.sa
        if req.pending and not self._decode_rest(req):
            return []
        self.counters[f"denied.{code}"] += 1
        send, line, actions = self.denials.admit(pkt.source, now)
        out: list[Action] = list(actions)
        if line:
            level = "warning" if code in (codes.HA_MN_AUTH, codes.HA_FA_AUTH, codes.HA_ID_MISMATCH) else "info"
            fields = {"node": node, "coa": req.care_of_address, "code": code, "reason": reason}
            out.append(Log("registration-denied", fields, level))
        if send:
            id_valid = sa is not None and code != codes.HA_ID_MISMATCH
            if sa is None:  # authentication failed: sign with an SA the node likely still has (oldest),
                # filed under its home address or, for a node known by its NAI, under the NAI (RFC 2794 §2)
                sa = (self._peer_sas(req.home_address) or self._peer_sas(node)
                      or self._peer_sas(request.nai or ""))[0]
            reply_id = self.replay.reply_identification(node, sa.replay, req.identification, now, id_valid,
                                                        record=False)
            out.append(self._reply(request, code, req.lifetime, reply_id, sa))
        return out

    def _reply(
        self,
        request: _Request,
        code: int,
        lifetime: int,
        identification: int,
        sa: SecurityAssociation | None,  # None: no MHAE (a 131 to a foreign agent, _refuse_unknown)
    ) -> SendUDP:
        """Build, sign and address a Registration Reply (§3.8.3: extension order a-e): the MHAE with `sa`,
        the FHAE with the request's FA-HA SA."""
        cfg = self.config
        req, pkt, fa_sa = request.req, request.pkt, request.fa_sa
        ha_field = req.home_agent if req.home_agent == cfg.address else cfg.address
        data = reg.encode_reply_fixed(code, lifetime, req.home_address, ha_field, identification)
        nai = challenge = b""
        raw = req.raw
        authenticated = True  # still before the authorization-enabling extension
        for e in req.extensions:
            t = e.type
            if t == MHAE or t == GEN_AUTH:
                authenticated = False
            elif t == MN_NAI and not nai and authenticated:
                # RFC 2794 §2: the NAI comes back in the reply, before the MHAE; only the one the node's
                # authenticator covered (one appended after it is anybody's, §3.5.1)
                nai = raw[e.offset : e.offset + 2 + raw[e.offset + 1]]
            elif t == MN_FA_CHALLENGE and not challenge:  # RFC 3012 §3.4: echoed after the MHAE
                challenge = raw[e.offset : e.offset + 2 + raw[e.offset + 1]]
        data += nai
        data = (sign(sa, data, MHAE) if sa is not None else data) + challenge
        if fa_sa is not None:
            data = sign(fa_sa, data, FHAE)
        to_home = req.lifetime == 0 and pkt.source == req.home_address == req.care_of_address
        broadcast = pkt.dest == BROADCAST or pkt.dest in cfg.broadcasts
        return SendUDP(
            pkt.source,
            data,
            pkt.source_port,
            cfg.address if broadcast else pkt.dest,
            434,
            cfg.interface if to_home else None,  # §3.8.3.1: bypass the binding, send on the home link
            pkt.lladdr if to_home else None,
        )

    def _bindings_record(self, home: str) -> StoreRecord | DeleteRecord:
        """What is stored of `home`'s bindings (§3.8.1, kept across a restart): one record holding all of them
        (usually one), so a renewal or a move writes one row, where a record per binding took two for a move
        (the old one's deletion and the new one); none left, the record goes. Its key is the home address."""
        current = self._bindings.get(home)
        return StoreRecord(BINDINGS, tuple(current)) if current else DeleteRecord(BINDINGS, home)

    def _replay_record(self, node: str) -> StoreRecord:
        """The last accepted Identification of `node`, to persist when its last binding row goes.

        With timestamps the binding row is where it is kept (§5.7.1); once that row is deleted
        (expiry, deregistration, restore of an expired binding) a captured request still inside the
        replay window would be accepted again after a restart unless the value is kept on its own.
        """
        last = self.replay.last_accepted(node)
        return StoreRecord("replay", (node, last if last is not None else 0))

    def _advert_flags(self) -> int:
        """§2.1.1: H; M and G when those encapsulations are offered."""
        enc = self.config.encapsulations
        return icmp.ADV_H | (icmp.ADV_M if "minimal" in enc else 0) | (icmp.ADV_G if "gre" in enc else 0)

    def _compact_expiry(self) -> None:
        """Rebuild the expiry heap from the live bindings: one entry per node, at its earliest expiry.

        A re-registration or a move pushes nothing (the node's entry, when due, is pushed again at its
        earliest expiry), so the heap holds about one entry per node. What adds more: a node that
        deregistered (its entry stays until due), a re-registration with a shorter lifetime (an earlier entry
        beside the one there). A node that did either over and over would fill the heap; it is rebuilt once it
        holds more than twice as many entries as there are nodes, O(n) per O(n) such pushes. (With an entry
        per binding, every move pushed one: at 1,000,000 nodes, a 0.33 s rebuild per 1,000,000 moves.)
        """
        self._expiry = [(due, home) for home, bs in self._bindings.items()
                        if (due := min(b.expires for b in bs)) != INFINITE]
        heapq.heapify(self._expiry)
        self.counters["expiry.compacted"] += 1

    def _arm(self, actions: list[Action]) -> None:
        if self._expiry and self._expiry[0][0] < self._armed:
            self._armed = self._expiry[0][0]
            actions.append(ArmTimer(EXPIRY_TIMER, self._armed))


def _advertising(config: HomeAgentConfig) -> tuple[list[AdvertLink], AdvertSettings]:
    """The home link advertisement (§2.3): the HA's address as router, no care-of addresses."""
    check_timing(config.advertisement_interval, config.advertisement_lifetime, "home_agent.")
    links = [AdvertLink(config.interface, config.address, config.home_prefix_length())] if config.advertise else []
    settings = AdvertSettings(
        config.advertisement_interval,
        config.advertisement_lifetime,
        min(config.max_lifetime, 0xFFFF),
        config.advertisement_code,
    )
    return links, settings
