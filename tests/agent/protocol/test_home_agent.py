"""Home agent state machine (mipd.protocol.home_agent), RFC 5944 §3.8 and §4.6, RFC 3024 §4.3."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.protocol import actions as A
from mipd.protocol.config import HomeAgentConfig, NaiHost
from mipd.protocol.filters import FilterRule, HostSet, RegistrationFilters, RuleList
from mipd.protocol.home_agent import BINDINGS, EXPIRY_TIMER, Binding, HomeAgent
from mipd.security import SecurityAssociation, SecurityAssociations, sign, verify
from mipd.security.replay import ntp_seconds, ntp_timestamp
from mipd.simnet import DataplaneState
from mipd.wire import registration as reg
from mipd.wire.extensions import FHAE, MHAE, NAIExtension, UnknownExtension

HA = "10.1.0.1"
MN = "10.1.0.10"
MN2 = "10.1.0.11"
FA = "10.2.0.1"
FA2 = "10.3.0.1"
NOW = 1_800_000_000.0
KEY = bytes(range(16))
FA_KEY = b"fa-ha-shared-key"


def mn_sa(peer: str = MN, spi: int = 256, **kw) -> SecurityAssociation:
    return SecurityAssociation(peer, spi, KEY, **kw)


def make_ha(sas: list[SecurityAssociation] | None = None, **cfg) -> HomeAgent:
    config = HomeAgentConfig(
        HA,
        "home0",
        cfg.pop("home_networks", ("10.1.0.0/24",)),
        mobile_hosts=cfg.pop("mobile_hosts", HostSet(("10.1.0.0/24", "*@example.net"))),
        **cfg,
    )
    return HomeAgent(config, SecurityAssociations(sas if sas is not None else [mn_sa()]), random.Random(1))


def request(
    sa: SecurityAssociation | None = None,
    *,
    home: str = MN,
    coa: str = FA,
    lifetime: int = 600,
    flags: int = 0,
    ident: int | None = None,
    ha: str = HA,
    before: list | None = None,
    fa_sa: SecurityAssociation | None = None,
    after: bytes = b"",
) -> bytes:
    sa = sa or mn_sa()
    msg = reg.RegistrationRequest(flags, lifetime, home, ha, coa, ident if ident is not None else ntp_timestamp(NOW))
    data = sign(sa, msg.encode_fixed() + b"".join(e.encode() for e in before or []), MHAE) + after
    if fa_sa is not None:
        data = sign(fa_sa, data, FHAE)
    return data


def packet(data: bytes, source: str = FA, dest: str = HA, **kw) -> A.Packet:
    return A.Packet(data, source, dest, kw.pop("source_port", 434), **kw)


def reply_of(actions: list) -> reg.RegistrationReply:
    sends = [a for a in actions if isinstance(a, A.SendUDP)]
    assert len(sends) == 1, actions
    rep = reg.decode(sends[0].payload)
    assert isinstance(rep, reg.RegistrationReply)
    return rep


def kinds(actions: list) -> list[type]:
    return [type(a) for a in actions]


# ---------------------------------------------------------------- acceptance


def test_accepts_valid_request_and_builds_tunnel_route_and_reply():
    """§3.8.2.2: valid request -> binding, tunnel, persisted record, then reply code 0 with valid MHAE."""
    ha = make_ha()
    acts = ha.on_packet(packet(request(flags=reg.FLAG_T)), NOW)
    assert A.AddTunnel(HA, FA, "ipip") in acts
    assert A.AddTunnelRoute(MN, HA, FA, "ipip") in acts
    store = next(i for i, a in enumerate(acts) if isinstance(a, A.StoreRecord))
    send = next(i for i, a in enumerate(acts) if isinstance(a, A.SendUDP))
    assert store < send, "the binding is persisted before the reply leaves"
    rep = reply_of(acts)
    assert (rep.code, rep.lifetime, rep.home_address, rep.home_agent) == (0, 600, MN, HA)
    assert verify(mn_sa(), rep.raw, rep.extensions[0]) == "hmac-md5"
    [b] = ha.bindings_of(MN)
    assert (b.care_of_address, b.reverse, b.encap, b.expires) == (FA, True, "ipip", NOW + 600)
    assert ha.counters["accepted.registration"] == 1


def test_reply_addressed_back_to_sender_port():
    """§3.8.3.1: reply to the request's source address and UDP source port, from its destination."""
    acts = make_ha().on_packet(packet(request(), source_port=5555), NOW)
    send = next(a for a in acts if isinstance(a, A.SendUDP))
    assert (send.dest, send.dest_port, send.source, send.source_port) == (FA, 5555, HA, 434)


def test_lifetime_is_min_of_requested_and_configured_never_increased():
    """§3.8.2.2, §3.8.3.2: the granted lifetime never exceeds the requested or the configured one."""
    ha = make_ha(max_lifetime=300)
    assert reply_of(ha.on_packet(packet(request(lifetime=1000)), NOW)).lifetime == 300
    ha = make_ha(max_lifetime=300)
    assert reply_of(ha.on_packet(packet(request(lifetime=100)), NOW)).lifetime == 100


def test_infinite_lifetime_only_when_configured():
    """§3.3: lifetime 0xffff = infinity; granted only when the HA allows it."""
    ha = make_ha(max_lifetime=0xFFFF)
    rep = reply_of(ha.on_packet(packet(request(lifetime=0xFFFF)), NOW))
    assert rep.lifetime == 0xFFFF
    assert ha.bindings_of(MN)[0].expires == float("inf")
    assert not any(isinstance(a, A.ArmTimer) for a in ha.on_packet(packet(request(lifetime=0xFFFF)), NOW))


def test_reregistration_same_coa_changes_no_data_plane():
    """§3.8.2.2: a re-registration refreshes the binding; the tunnel stays as it is."""
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    acts = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 1))), NOW + 1)
    assert not [a for a in acts if isinstance(a, (A.AddTunnel, A.RemoveTunnel, A.SetProxyArp))]
    assert reply_of(acts).code == 0
    assert ha.bindings_of(MN)[0].expires == NOW + 601


def test_a_renewal_updates_the_binding_in_place_and_stores_its_new_values():
    """§3.8.2.2: a renewal at the same care-of address and tunnel changes the node's binding where it is (no new
    object per renewal for the garbage collector to walk); the record stored says what was granted this time."""
    ha = make_ha()
    ha.on_packet(packet(request(lifetime=100)), NOW)
    [first] = ha.bindings_of(MN)
    ident = ntp_timestamp(NOW + 5)
    acts = ha.on_packet(packet(request(lifetime=300, ident=ident, flags=reg.FLAG_T), source="10.2.0.7"), NOW + 5)
    [renewed] = ha.bindings_of(MN)
    assert renewed is first and reply_of(acts).code == 0
    [(stored,)] = [a.record for a in acts if isinstance(a, A.StoreRecord)]  # the node's record: its one binding
    assert (stored.lifetime, stored.expires, stored.identification) == (300, NOW + 305, ident)
    assert (stored.reverse, stored.source, stored.care_of_address) == (True, "10.2.0.7", FA)


def test_bindings_behind_one_foreign_agent_share_its_address_strings():
    """Thousands of nodes behind a foreign agent hold one copy of its care-of and source address, not one each
    (memory per binding at a million nodes)."""
    ha = make_ha([mn_sa(), mn_sa(MN2)])
    for sa in (mn_sa(), mn_sa(MN2)):  # each request decoded afresh, its source a string of its own
        ha.on_packet(packet(request(sa, home=sa.peer), source="".join(["10.2.", "0.1"])), NOW)
    [a], [b] = ha.bindings_of(MN), ha.bindings_of(MN2)
    assert a.care_of_address is b.care_of_address and a.source is b.source


def test_handoff_replaces_binding_and_old_tunnel():
    """§3.8.2.2: without S the previous bindings are removed: the node's one binding takes the new care-of
    address in place (no new object per move for the garbage collector to walk at a million nodes)."""
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    [first] = ha.bindings_of(MN)
    acts = ha.on_packet(packet(request(coa=FA2, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    assert [type(a) for a in acts if type(a).__name__.endswith(("Tunnel", "TunnelRoute"))] == [
        A.AddTunnel, A.AddTunnelRoute, A.RemoveTunnel]
    assert A.AddTunnelRoute(MN, HA, FA2, "ipip") in acts
    assert A.RemoveTunnel(HA, FA, "ipip") in acts
    [stored] = [a for a in acts if isinstance(a, (A.StoreRecord, A.DeleteRecord))]  # one row: the node's bindings
    assert stored == A.StoreRecord(BINDINGS, tuple(ha.bindings_of(MN)))
    [moved] = ha.bindings_of(MN)
    assert moved is first and (moved.care_of_address, moved.source, moved.expires) == (FA2, FA2, NOW + 1 + 600)


def test_a_new_encapsulation_at_the_same_care_of_address_replaces_the_tunnel():
    """§3.3: the node asks for GRE where it had IP-in-IP at the same foreign agent: the GRE tunnel is added and
    routed, the IP-in-IP one removed, and the binding says GRE."""
    ha = make_ha(encapsulations=("ipip", "gre"))
    ha.on_packet(packet(request()), NOW)
    acts = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 1), flags=reg.FLAG_G)), NOW + 1)
    assert reply_of(acts).code == 0
    assert A.AddTunnel(HA, FA, "gre") in acts and A.RemoveTunnel(HA, FA, "ipip") in acts
    assert [(b.care_of_address, b.encap) for b in ha.bindings_of(MN)] == [(FA, "gre")]


@pytest.mark.parametrize(("flags", "encap"), [(reg.FLAG_G, "gre"), (reg.FLAG_M, "minimal"), (0, "ipip")])
def test_encapsulation_from_flags(flags, encap):
    """§3.3 M and G bits choose minimal (RFC 2004) or GRE (RFC 2784); IP-in-IP otherwise."""
    acts = make_ha().on_packet(packet(request(flags=flags)), NOW)
    assert A.AddTunnel(HA, FA, encap) in acts


# ---------------------------------------------------------------- ARP (§4.6)


def test_first_binding_starts_proxy_and_gratuitous_arp_on_home_link():
    """§4.6: a node leaving home: proxy ARP and a gratuitous ARP with the HA's own address."""
    acts = make_ha().on_packet(packet(request()), NOW)
    assert A.SetProxyArp(MN, "home0", True) in acts
    assert A.SendGratuitousArp(MN, "home0", None) in acts


def test_virtual_network_nodes_get_no_arp():
    """§4.6 applies to a physical home link only; virtual networks have none."""
    ha = make_ha(home_networks=(), virtual_networks=("10.1.0.0/24",))
    acts = ha.on_packet(packet(request()), NOW)
    assert not [a for a in acts if isinstance(a, (A.SetProxyArp, A.SendGratuitousArp))]


def test_deregistration_from_home_stops_proxy_arp_and_announces_mn_mac():
    """§3.8.2.2 + §4.6 + §3.8.3.1: CoA = home address, lifetime 0 from home: all bindings removed,
    proxy ARP off, gratuitous ARP with the node's own link-layer address, reply sent on the home link."""
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    dereg = request(coa=MN, lifetime=0, ident=ntp_timestamp(NOW + 5))
    acts = ha.on_packet(packet(dereg, source=MN, lladdr="02:00:00:00:00:0a"), NOW + 5)
    assert A.RemoveTunnelRoute(MN) in acts
    assert A.SetProxyArp(MN, "home0", False) in acts
    assert A.SendGratuitousArp(MN, "home0", "02:00:00:00:00:0a") in acts
    send = next(a for a in acts if isinstance(a, A.SendUDP))
    assert (send.dest, send.interface, send.lladdr) == (MN, "home0", "02:00:00:00:00:0a")
    assert reply_of(acts).code == 0 and reply_of(acts).lifetime == 0
    assert ha.bindings_of(MN) == []


def test_deregistration_of_one_coa_keeps_others():
    """§3.8.2.2: lifetime 0 with a CoA other than the home address removes only that binding."""
    ha = make_ha(simultaneous_bindings=3)
    ha.on_packet(packet(request(flags=reg.FLAG_S)), NOW)
    ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    assert len(ha.bindings_of(MN)) == 2
    acts = ha.on_packet(packet(request(coa=FA, lifetime=0, ident=ntp_timestamp(NOW + 2))), NOW + 2)
    assert [b.care_of_address for b in ha.bindings_of(MN)] == [FA2]
    assert A.RemoveTunnel(HA, FA, "ipip") in acts
    assert not any(isinstance(a, A.SetProxyArp) for a in acts)


def test_a_nodes_bindings_are_one_record_that_follows_them_until_none_is_left():
    """§3.8.1 kept across a restart: what is stored of a home address is one record holding all its bindings,
    written whole on each change (a second simultaneous binding, deregistering one), deleted with the last."""
    ha = make_ha(simultaneous_bindings=3)

    def records(acts: list) -> list:
        return [a for a in acts if isinstance(a, (A.StoreRecord, A.DeleteRecord)) and a.kind == BINDINGS]

    ha.on_packet(packet(request(flags=reg.FLAG_S)), NOW)
    acts = ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    [both] = records(acts)
    assert [b.care_of_address for b in both.record] == [FA, FA2]
    acts = ha.on_packet(packet(request(coa=FA, lifetime=0, ident=ntp_timestamp(NOW + 2))), NOW + 2)
    [left] = records(acts)
    assert isinstance(left, A.StoreRecord) and [b.care_of_address for b in left.record] == [FA2]
    acts = ha.on_packet(packet(request(coa=FA2, lifetime=0, ident=ntp_timestamp(NOW + 3))), NOW + 3)
    assert records(acts) == [A.DeleteRecord(BINDINGS, MN)]


# ---------------------------------------------------------------- simultaneous bindings, limits


def test_s_bit_without_support_gets_code_1_and_replaces():
    """§3.8.2.2: code 1 = accepted, simultaneous bindings unsupported."""
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    acts = ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    assert reply_of(acts).code == 1
    assert [b.care_of_address for b in ha.bindings_of(MN)] == [FA2]


def _two_simultaneous(ha: HomeAgent, state: DataplaneState) -> list:
    """MN registers with S via FA, then via FA2; the actions are applied to `state`."""
    first = ha.on_packet(packet(request(flags=reg.FLAG_S)), NOW)
    second = ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    for a in first + second:
        state.apply(a)
    return second


def test_simultaneous_binding_routes_a_copy_into_each_tunnel():
    """§3.6.1.2, §4.2.3: with S granted the new tunnel is routed beside the old one (a copy to each
    care-of address), not instead of it."""
    ha, state = make_ha(simultaneous_bindings=3), DataplaneState()
    acts = _two_simultaneous(ha, state)
    assert reply_of(acts).code == 0
    assert A.AddTunnelRoute(MN, HA, FA2, "ipip", exclusive=False) in acts
    assert not [a for a in acts if isinstance(a, (A.RemoveTunnel, A.RemoveTunnelRoute))]
    assert state.tunnel_routes[MN] == [(HA, FA, "ipip"), (HA, FA2, "ipip")]


@pytest.mark.parametrize("coa", [FA, FA2])
def test_deregistering_one_simultaneous_binding_keeps_the_other_route(coa):
    """§3.8.2.2 + §4.2.3: lifetime 0 for one care-of address removes only that tunnel's route."""
    ha, state = make_ha(simultaneous_bindings=3), DataplaneState()
    _two_simultaneous(ha, state)
    acts = ha.on_packet(packet(request(coa=coa, lifetime=0, ident=ntp_timestamp(NOW + 2)), source=coa), NOW + 2)
    assert A.RemoveTunnelRoute(MN, HA, coa, "ipip") in acts
    assert A.RemoveTunnelRoute(MN) not in acts and not [a for a in acts if isinstance(a, A.AddTunnelRoute)]
    for a in acts:
        state.apply(a)
    other = FA2 if coa == FA else FA
    assert state.tunnel_routes[MN] == [(HA, other, "ipip")] and (HA, coa, "ipip") not in state.tunnels


def test_expiry_of_one_simultaneous_binding_keeps_the_other_route():
    """§4.2.3: the HA "MUST delete the binding, but it MUST retain any other (non-expired)
    simultaneous mobility bindings"; the other tunnel keeps receiving copies."""
    ha, state = make_ha(simultaneous_bindings=3), DataplaneState()
    _two_simultaneous(ha, state)
    ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 300))), NOW + 300)
    acts = ha.on_timer(EXPIRY_TIMER, NOW + 601)  # FA's binding expires, FA2's was refreshed
    for a in acts:
        state.apply(a)
    assert A.RemoveTunnelRoute(MN, HA, FA, "ipip") in acts
    assert [b.care_of_address for b in ha.bindings_of(MN)] == [FA2]
    assert state.tunnel_routes[MN] == [(HA, FA2, "ipip")]
    assert not [a for a in acts if isinstance(a, A.SetProxyArp)]


def test_registration_without_s_removes_the_routes_of_the_other_bindings():
    """§3.6.1.2: without S the previous bindings are replaced; re-registering an existing care-of
    address (no new tunnel) still takes the others' tunnels out of the route."""
    ha, state = make_ha(simultaneous_bindings=3), DataplaneState()
    _two_simultaneous(ha, state)
    acts = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 2))), NOW + 2)
    assert A.RemoveTunnelRoute(MN, HA, FA2, "ipip") in acts
    for a in acts:
        state.apply(a)
    assert state.tunnel_routes[MN] == [(HA, FA, "ipip")]


def test_encapsulation_change_of_one_simultaneous_binding_keeps_the_other():
    """§3.6.1.2, §4.2.3: a simultaneous binding re-registered with GRE (§3.3 G bit) moves to a GRE
    tunnel; the other binding's tunnel stays routed."""
    ha, state = make_ha(simultaneous_bindings=3), DataplaneState()
    _two_simultaneous(ha, state)
    acts = ha.on_packet(packet(request(flags=reg.FLAG_S | reg.FLAG_G, ident=ntp_timestamp(NOW + 2))), NOW + 2)
    for a in acts:
        state.apply(a)
    assert sorted(state.tunnel_routes[MN]) == [(HA, FA, "gre"), (HA, FA2, "ipip")]
    assert set(state.tunnels) == {(HA, FA, "gre"), (HA, FA2, "ipip")}


def test_no_simultaneous_bindings_where_the_data_plane_cannot_copy():
    """§3.4, §3.8.3: a data plane that cannot duplicate (copies=False, the kernel backend) makes
    the HA answer S with code 1 ("accepted, but simultaneous mobility bindings unsupported") and
    replace the binding, whatever simultaneous_bindings allows."""
    config = HomeAgentConfig(HA, "home0", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24",)),
                             simultaneous_bindings=3)
    ha, state = HomeAgent(config, SecurityAssociations([mn_sa()]), random.Random(1), copies=False), DataplaneState()
    acts = _two_simultaneous(ha, state)
    assert reply_of(acts).code == 1
    assert A.AddTunnelRoute(MN, HA, FA2, "ipip", exclusive=True) in acts
    assert [b.care_of_address for b in ha.bindings_of(MN)] == [FA2]
    assert state.tunnel_routes[MN] == [(HA, FA2, "ipip")]


def test_restore_without_copies_keeps_one_binding_per_node():
    """§4.2.3: simultaneous bindings stored by a data plane that copied, restored where the data
    plane cannot (e.g. restarted on the kernel backend): one binding per node stays."""
    config = HomeAgentConfig(HA, "home0", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24",)),
                             simultaneous_bindings=3)
    ha = HomeAgent(config, SecurityAssociations([mn_sa()]), random.Random(1), copies=False)
    stored = [Binding(MN, coa, 600, NOW + 100, 1, "ipip", False, coa, simultaneous=True) for coa in (FA, FA2)]
    state = DataplaneState()
    for a in ha.restore(stored, NOW):
        state.apply(a)
    assert len(ha.bindings_of(MN)) == 1 and len(state.tunnel_routes[MN]) == 1 and len(state.tunnels) == 1


def test_simultaneous_binding_limit_gives_135():
    """§3.8.2.3: too many simultaneous mobility bindings -> 135."""
    ha = make_ha(simultaneous_bindings=1)
    ha.on_packet(packet(request(flags=reg.FLAG_S)), NOW)
    acts = ha.on_packet(packet(request(coa=FA2, flags=reg.FLAG_S, ident=ntp_timestamp(NOW + 1)), source=FA2), NOW + 1)
    assert reply_of(acts).code == 135
    assert [b.care_of_address for b in ha.bindings_of(MN)] == [FA]


def test_binding_limit_gives_130_for_new_nodes_only():
    """§3.4 code 130 insufficient resources when the configured binding limit is reached."""
    ha = make_ha([mn_sa(), mn_sa(MN2)], binding_limit=1)
    assert reply_of(ha.on_packet(packet(request()), NOW)).code == 0
    assert reply_of(ha.on_packet(packet(request(mn_sa(MN2), home=MN2)), NOW)).code == 130
    # the node already bound can still re-register
    assert reply_of(ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 1))), NOW + 1)).code == 0


# ---------------------------------------------------------------- authentication (§3.8.2.1 a)


def test_no_security_association_is_silently_discarded():
    """§3.8.2.1 a: no SA with the node -> silent discard."""
    ha = make_ha([mn_sa(MN2)])
    assert ha.on_packet(packet(request()), NOW) == []
    assert ha.counters["discard.no_sa"] == 1


def test_no_authorization_extension_is_silently_discarded():
    """§3.8.2.1 a: no authorization-enabling extension -> silent discard."""
    ha = make_ha()
    bare = reg.RegistrationRequest(0, 600, MN, HA, FA, ntp_timestamp(NOW)).encode()
    assert ha.on_packet(packet(bare), NOW) == []
    assert ha.counters["discard.no_auth_extension"] == 1


def test_bad_authenticator_gets_131_with_valid_mhae_and_changes_nothing():
    """§3.8.2.1 a: invalid authenticator -> 131, the reply carries a valid MHAE; no binding made."""
    ha = make_ha()
    data = bytearray(request())
    data[-1] ^= 1
    acts = ha.on_packet(packet(bytes(data)), NOW)
    rep = reply_of(acts)
    assert rep.code == 131
    assert verify(mn_sa(), rep.raw, rep.extensions[0])
    assert ha.bindings_of(MN) == []
    assert not [a for a in acts if not isinstance(a, (A.SendUDP, A.Log))]
    assert next(a for a in acts if isinstance(a, A.Log)).level == "warning"


def test_unknown_spi_gets_131_signed_with_an_sa_the_node_has():
    """§3.8.2.1 a: reply with an SA "likely to exist in the mobile node" (the older one)."""
    old = mn_sa(spi=256)
    ha = make_ha([old])
    acts = ha.on_packet(packet(request(SecurityAssociation(MN, 999, b"new-key-not-on-ha"))), NOW)
    rep = reply_of(acts)
    assert rep.code == 131
    assert rep.extensions[0].spi == 256 and verify(old, rep.raw, rep.extensions[0])


def test_several_spis_per_node_for_rotation():
    """§3.5: an SA is (peer, SPI); the node may use either while both exist."""
    old, new = mn_sa(spi=256), SecurityAssociation(MN, 257, b"\x01" * 16)
    ha = make_ha([old, new])
    assert reply_of(ha.on_packet(packet(request(old)), NOW)).code == 0
    rep = reply_of(ha.on_packet(packet(request(new, ident=ntp_timestamp(NOW + 1))), NOW + 1))
    assert rep.code == 0 and rep.extensions[0].spi == 257 and verify(new, rep.raw, rep.extensions[0])


@pytest.mark.parametrize("alg", ["md5-prefix-suffix", "rfc2002-md5"])
def test_per_sa_algorithms(alg):
    """§3.5.1, RFC 2002 §3.5.1: any SPI may use any algorithm; the reply uses the SA's algorithm."""
    sa = mn_sa(algorithm=alg)
    ha = make_ha([sa])
    rep = reply_of(ha.on_packet(packet(request(sa)), NOW))
    assert rep.code == 0 and verify(sa, rep.raw, rep.extensions[0]) == alg


def test_algorithm_fallback_is_off_by_default_and_counted_when_used():
    """Field interop: per-SA fallback to the other algorithms, off by default, counted."""
    signer = mn_sa(algorithm="md5-prefix-suffix")
    assert reply_of(make_ha([mn_sa()]).on_packet(packet(request(signer)), NOW)).code == 131
    ha = make_ha([mn_sa(fallback=True)])
    assert reply_of(ha.on_packet(packet(request(signer)), NOW)).code == 0
    assert ha.counters["security.auth_fallback"] == 1


def test_nai_identifies_node_and_is_returned():
    """RFC 2794 §2: SA found by NAI; the NAI extension is copied into the reply."""
    sa = SecurityAssociation("mn1@example.net", 300, KEY)
    ha = make_ha([sa], nai_hosts=(NaiHost("mn1@example.net", (MN,)),))
    acts = ha.on_packet(packet(request(sa, before=[NAIExtension("mn1@example.net")])), NOW)
    rep = reply_of(acts)
    assert rep.code == 0
    assert rep.extensions[0] == NAIExtension("mn1@example.net")
    assert verify(sa, rep.raw, rep.extensions[1])


def test_an_nai_appended_after_the_mhae_is_not_echoed_into_the_signed_reply():
    """§3.5.1: what follows the MHAE is not authenticated; an NAI added there by anyone on the path
    must not come back inside the part of the reply the home agent's MHAE covers (RFC 2794 §2)."""
    data = request(after=NAIExtension("mallory@example.net").encode())
    rep = reply_of(make_ha().on_packet(packet(data), NOW))
    assert rep.code == 0 and [e.type for e in rep.extensions] == [MHAE]


def test_mn_fa_challenge_is_echoed_after_the_mhae():
    """RFC 3012 §3.4: the challenge comes back in the reply, after the MHAE, before the FHAE."""
    from mipd.wire.extensions import ChallengeExtension

    ha = make_ha([mn_sa(), fa_sa()])
    data = request(after=ChallengeExtension(b"0123456789abcdef").encode(), fa_sa=fa_sa())
    rep = reply_of(ha.on_packet(packet(data), NOW))
    assert rep.code == 0
    assert [e.type for e in rep.extensions] == [MHAE, 132, FHAE]
    assert rep.extensions[1] == ChallengeExtension(b"0123456789abcdef")
    assert verify(fa_sa(), rep.raw, rep.extensions[2])


def test_nai_after_the_mhae_is_not_trusted():
    """§3.5.1: extensions after the MHAE are not authenticated, so they cannot select the SA."""
    sa = SecurityAssociation("mn1@example.net", 300, KEY)
    ha = make_ha([sa])
    data = request(sa, home="10.9.9.9", after=NAIExtension("mn1@example.net").encode())
    assert ha.on_packet(packet(data), NOW) == []
    assert ha.counters["discard.no_sa"] == 1


# ---------------------------------------------------------------- one SA, one identity (§3.8.2.1 a, RFC 2794)

EVIL = "evil@example.net"
EVIL_HOME = "10.1.0.20"  # the one address the NAI is configured to hold
UNCONFIGURED = "10.1.0.99"  # in mobile_hosts, no SA of its own
COLOCATED = "192.0.2.5"


def identity_ha() -> HomeAgent:
    """MN and MN2 with address SAs (different keys), EVIL with an NAI SA bound to EVIL_HOME, an FA SA."""
    sas = [mn_sa(), SecurityAssociation(MN2, 256, b"another-nodes-key"), SecurityAssociation(EVIL, 300, KEY), fa_sa()]
    return make_ha(sas, nai_hosts=(NaiHost(EVIL, (EVIL_HOME,)),))


def claim(sa: SecurityAssociation, home: str, via_fa: bool) -> A.Packet:
    """A request for `home` signed with `sa` (its NAI first when the SA is an NAI's), through the FA
    (FHAE, care-of address the FA's) or directly from a co-located care-of address."""
    before = [NAIExtension(sa.peer)] if "@" in sa.peer else []
    if via_fa:
        return packet(request(sa, home=home, before=before, fa_sa=fa_sa()))
    return packet(request(sa, home=home, coa=COLOCATED, before=before), source=COLOCATED)


def assert_no_state(ha: HomeAgent, acts: list, home: str) -> None:
    assert ha.bindings_of(home) == []
    assert not [a for a in acts if isinstance(a, (A.StoreRecord, A.AddTunnel, A.AddTunnelRoute, A.SetProxyArp))]
    assert ha.replay.last_accepted(home) is None


@pytest.mark.parametrize("via_fa", [True, False], ids=["through-fa", "direct"])
@pytest.mark.parametrize(("signer", "home"), [(MN, MN2), (EVIL, MN), (EVIL, MN2), (EVIL, UNCONFIGURED), (EVIL, HA)])
def test_an_sa_never_authenticates_another_identitys_home_address(signer, home, via_fa):
    """The impersonation hole: a valid key of one identity claiming another node's address, an
    address with no SA, or the agent's own address -> 131, counted, logged, no state (§3.8.2.1 a)."""
    ha = identity_ha()
    sa = mn_sa() if signer == MN else SecurityAssociation(EVIL, 300, KEY)
    acts = ha.on_packet(claim(sa, home, via_fa), NOW)
    rep = reply_of(acts)
    assert (rep.code, rep.home_address) == (131, home)
    # signed with the NAI's SA that verified, or, when nothing verified, with the claimed node's own SA
    signer_sa = sa if signer == EVIL else ha.sas.get(MN2, 256)
    assert verify(signer_sa, rep.raw, next(e for e in rep.extensions if e.type == MHAE))
    assert_no_state(ha, acts, home)
    assert ha.counters["denied.131"] == 1
    assert [a for a in acts if isinstance(a, A.Log)][0].level == "warning"


@pytest.mark.parametrize("via_fa", [True, False], ids=["through-fa", "direct"])
@pytest.mark.parametrize("home", [UNCONFIGURED, HA])
def test_an_address_sa_claiming_an_address_without_any_sa_is_discarded(home, via_fa):
    """§3.8.2.1 a: no SA at all with the claimed node -> silently discarded (MUST), counted, no state."""
    ha = identity_ha()
    acts = ha.on_packet(claim(mn_sa(), home, via_fa), NOW)
    assert acts == []
    assert ha.counters["discard.no_sa"] == 1
    assert_no_state(ha, acts, home)


@pytest.mark.parametrize("via_fa", [True, False], ids=["through-fa", "direct"])
@pytest.mark.parametrize(("signer", "home"), [(MN, MN), (EVIL, EVIL_HOME)])
def test_each_sa_registers_its_own_home_address(signer, home, via_fa):
    """The happy side of the same matrix: an address SA its address, an NAI SA the address configured for it."""
    ha = identity_ha()
    sa = mn_sa() if signer == MN else SecurityAssociation(EVIL, 300, KEY)
    assert reply_of(ha.on_packet(claim(sa, home, via_fa), NOW)).code == 0
    assert [b.home_address for b in ha.bindings()] == [home]


@pytest.mark.parametrize("home", [HA, "10.1.0.0", "10.1.0.255"])
def test_agent_network_and_broadcast_addresses_are_never_bound(home):
    """Even with an SA configured for it (a mistake), the home agent's own address and its home
    network's network and broadcast addresses are refused (129) and never bound."""
    sa = mn_sa(home)
    ha = make_ha([sa, fa_sa()], nai_hosts=(NaiHost(EVIL, (EVIL_HOME,)),))
    acts = ha.on_packet(packet(request(sa, home=home, fa_sa=fa_sa())), NOW)
    assert reply_of(acts).code == 129
    assert_no_state(ha, acts, home)


def test_nai_sa_without_a_configured_address_authenticates_nothing():
    """An NAI matching a mobile_hosts pattern but with no nai_hosts entry holds no address: 131."""
    sa = SecurityAssociation("mn1@example.net", 300, KEY)
    ha = make_ha([sa])
    acts = ha.on_packet(packet(request(sa, before=[NAIExtension("mn1@example.net")])), NOW)
    assert reply_of(acts).code == 131
    assert ha.counters["security.sa_not_for_home_address"] == 1


def test_an_nai_may_be_configured_for_several_home_addresses():
    """RFC 2794: an NAI may hold more than one address; each is its own node (bindings, replay)."""
    sa = SecurityAssociation(EVIL, 300, KEY)
    ha = make_ha([sa], nai_hosts=(NaiHost(EVIL, (MN, MN2)),), mobile_hosts=HostSet())
    for home in (MN, MN2):
        assert reply_of(ha.on_packet(packet(request(sa, home=home, before=[NAIExtension(EVIL)])), NOW)).code == 0
    assert sorted(b.home_address for b in ha.bindings()) == [MN, MN2]


# ---------------------------------------------------------------- identification (§3.8.2.1 b, §5.7)


def test_replayed_identification_gets_133_with_ha_time():
    """§5.7.1: not newer than the last accepted -> 133, high 32 bits = HA time, low 32 copied."""
    ha = make_ha()
    data = request(ident=ntp_timestamp(NOW, 0x123))
    assert reply_of(ha.on_packet(packet(data), NOW)).code == 0
    rep = reply_of(ha.on_packet(packet(data), NOW + 2))
    assert rep.code == 133
    assert rep.identification >> 32 == ntp_seconds(NOW + 2)
    assert rep.identification & 0xFFFFFFFF == ntp_timestamp(NOW, 0x123) & 0xFFFFFFFF
    assert ha.bindings_of(MN)[0].expires == NOW + 600  # unchanged


def test_timestamp_outside_window_gets_133():
    """§5.7.1: the timestamp must be close to the HA's clock (default 7 s)."""
    ha = make_ha()
    assert reply_of(ha.on_packet(packet(request(ident=ntp_timestamp(NOW - 30))), NOW)).code == 133
    ha = make_ha([mn_sa(replay_window=60)])
    assert reply_of(ha.on_packet(packet(request(ident=ntp_timestamp(NOW - 30))), NOW)).code == 0


def test_accepted_identification_copied_whole():
    """§5.7.1: a valid timestamp is copied whole into the reply."""
    ident = ntp_timestamp(NOW, 0xABC)
    assert reply_of(make_ha().on_packet(packet(request(ident=ident)), NOW)).identification == ident


def test_denied_request_does_not_advance_the_sequence():
    """§5.7.1: only accepted timestamps count; a 129 denial copies the id but records nothing."""
    ha = make_ha(filters=RegistrationFilters(care_of=RuleList((FilterRule("deny", prefix="10.2.0.0/16"),))))
    ident = ntp_timestamp(NOW)
    rep = reply_of(ha.on_packet(packet(request(ident=ident)), NOW))
    assert (rep.code, rep.identification) == (129, ident)
    assert ha.replay.last_accepted(MN) is None


def test_nonce_replay_protection_self_synchronises():
    """§5.7.2: first request lacks the nonce -> 133 carrying one; echoing it is accepted."""
    sa = mn_sa(replay="nonce")
    ha = make_ha([sa])
    rep = reply_of(ha.on_packet(packet(request(sa, ident=0x1111)), NOW))
    assert rep.code == 133 and rep.identification & 0xFFFFFFFF == 0x1111
    nonce = rep.identification >> 32
    rep2 = reply_of(ha.on_packet(packet(request(sa, ident=(nonce << 32) | 0x2222)), NOW))
    assert rep2.code == 0 and rep2.identification & 0xFFFFFFFF == 0x2222
    assert rep2.identification >> 32 != nonce  # a fresh nonce for the next request


# ---------------------------------------------------------------- foreign agent auth (§3.8.2.1 c, d)


def fa_sa(spi: int = 400) -> SecurityAssociation:
    return SecurityAssociation(FA, spi, FA_KEY)


def test_fa_sa_requires_exactly_one_valid_fhae():
    """§3.8.2.1 c: with an FA SA a valid FHAE is required, else 132."""
    ha = make_ha([mn_sa(), fa_sa()])
    assert reply_of(ha.on_packet(packet(request()), NOW)).code == 132
    bad = bytearray(request(ident=ntp_timestamp(NOW, 1), fa_sa=fa_sa()))
    bad[-1] ^= 0xFF
    assert reply_of(ha.on_packet(packet(bytes(bad)), NOW)).code == 132
    acts = ha.on_packet(packet(request(ident=ntp_timestamp(NOW, 2), fa_sa=fa_sa())), NOW)
    rep = reply_of(acts)
    assert rep.code == 0
    assert [e.type for e in rep.extensions] == [MHAE, FHAE]  # §3.8.3.3 order
    assert verify(fa_sa(), rep.raw, rep.extensions[1])


def test_fhae_without_fa_sa_is_discarded():
    """§3.8.2.1 d: no SA with the FA but an FHAE present -> discard."""
    ha = make_ha()
    assert ha.on_packet(packet(request(fa_sa=fa_sa())), NOW) == []
    assert ha.counters["discard.fhae_without_sa"] == 1


def test_deregistration_may_skip_fhae():
    """§3.8.1: with lifetime 0 the HA MAY skip the FHAE check."""
    ha = make_ha([mn_sa(), fa_sa()])
    ha.on_packet(packet(request(fa_sa=fa_sa())), NOW)
    assert reply_of(ha.on_packet(packet(request(lifetime=0, ident=ntp_timestamp(NOW + 1))), NOW + 1)).code == 0


# ---------------------------------------------------------------- administrative checks


def test_subnet_directed_broadcast_gets_136_with_unicast_address():
    """§3.8.2.1: a request to the home subnet broadcast -> 136, reply from and naming our unicast address."""
    ha = make_ha()
    acts = ha.on_packet(packet(request(ha="10.1.0.255"), dest="10.1.0.255"), NOW)
    rep = reply_of(acts)
    assert (rep.code, rep.home_agent) == (136, HA)
    assert next(a for a in acts if isinstance(a, A.SendUDP)).source == HA
    assert ha.bindings_of(MN) == []


def test_limited_broadcast_gets_136():
    """§3.8.2.1: routers may turn the subnet broadcast into 255.255.255.255."""
    assert reply_of(make_ha().on_packet(packet(request(), dest="255.255.255.255"), NOW)).code == 136


def test_home_agent_field_not_ours_gets_136():
    """§3.8.3.2: Home Agent field not our address -> our address in the reply and 136."""
    rep = reply_of(make_ha().on_packet(packet(request(ha="10.1.0.2")), NOW))
    assert (rep.code, rep.home_agent) == (136, HA)


@pytest.mark.parametrize("bit", [0x04, 0x01])
def test_reserved_bits_give_134(bit):
    """§3.8.2.3: non-zero reserved bits -> 134."""
    assert reply_of(make_ha().on_packet(packet(request(flags=bit)), NOW)).code == 134


def test_unserved_node_gets_129():
    """§3.8.3.2: a home address the HA cannot support -> 129."""
    sa = mn_sa("10.7.0.1")
    assert reply_of(make_ha([sa]).on_packet(packet(request(sa, home="10.7.0.1")), NOW)).code == 129


def test_zero_home_address_gets_129_without_dynamic_allocation():
    """§3.8.3.2: HoA 0 asks for allocation, which this HA does not offer -> 129 (via NAI SA)."""
    sa = SecurityAssociation("mn1@example.net", 300, KEY)
    acts = make_ha([sa]).on_packet(packet(request(sa, home="0.0.0.0", before=[NAIExtension("mn1@example.net")])), NOW)
    assert reply_of(acts).code == 129


def test_registration_filters_give_129():
    """§3.8.2.3: administratively prohibited by the care-of or roaming filters -> 129."""
    deny_coa = RegistrationFilters(care_of=RuleList((FilterRule("deny", prefix="10.2.0.0/24"),)))
    assert reply_of(make_ha(filters=deny_coa).on_packet(packet(request()), NOW)).code == 129
    deny_mn = RegistrationFilters(roaming=RuleList((FilterRule("permit", prefix=MN2 + "/32"),), default="deny"))
    assert reply_of(make_ha(filters=deny_mn).on_packet(packet(request()), NOW)).code == 129


def test_filters_do_not_block_deregistration():
    """A node must always be able to cease service (§3.8.2.2), whatever the filters say."""
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    ha.config = HomeAgentConfig(
        HA,
        "home0",
        ("10.1.0.0/24",),
        mobile_hosts=HostSet(("10.1.0.0/24",)),
        filters=RegistrationFilters(care_of=RuleList(default="deny")),
    )
    assert reply_of(ha.on_packet(packet(request(lifetime=0, ident=ntp_timestamp(NOW + 1))), NOW + 1)).code == 0


def test_encapsulation_unavailable_gives_139():
    """RFC 3024 §4.3 code 139: requested encapsulation unavailable."""
    ha = make_ha(encapsulations=frozenset({"ipip"}))
    assert reply_of(ha.on_packet(packet(request(flags=reg.FLAG_G)), NOW)).code == 139
    assert reply_of(make_ha().on_packet(packet(request(flags=reg.FLAG_G | reg.FLAG_M)), NOW)).code == 139


def test_reverse_tunnel_codes_137_138():
    """RFC 3024 §4.3: T not offered -> 137; mandatory and T missing -> 138."""
    assert reply_of(make_ha(reverse_tunnel=False).on_packet(packet(request(flags=reg.FLAG_T)), NOW)).code == 137
    assert reply_of(make_ha(reverse_tunnel_mandatory=True).on_packet(packet(request()), NOW)).code == 138


# ---------------------------------------------------------------- timers, restore, reload, shutdown


def test_expiry_removes_binding_and_sends_nothing():
    """§3.8: lifetime expiry deletes the entry; the HA MUST NOT send a reply for it."""
    ha = make_ha()
    acts = ha.on_packet(packet(request(lifetime=60)), NOW)
    assert A.ArmTimer(EXPIRY_TIMER, NOW + 60) in acts
    assert ha.on_timer(EXPIRY_TIMER, NOW + 59) == [A.ArmTimer(EXPIRY_TIMER, NOW + 60)]  # early: re-armed
    out = ha.on_timer(EXPIRY_TIMER, NOW + 60)
    assert A.RemoveTunnelRoute(MN) in out and A.SetProxyArp(MN, "home0", False) in out
    assert not any(isinstance(a, A.SendUDP) for a in out)
    assert ha.bindings_of(MN) == [] and ha.counters["binding.expired"] == 1


def test_refreshed_binding_does_not_expire_at_old_time():
    """§3.8.2.2: the lifetime counts from the latest accepted registration."""
    ha = make_ha()
    ha.on_packet(packet(request(lifetime=60)), NOW)
    ha.on_packet(packet(request(lifetime=60, ident=ntp_timestamp(NOW + 30))), NOW + 30)
    assert ha.on_timer(EXPIRY_TIMER, NOW + 60) == [A.ArmTimer(EXPIRY_TIMER, NOW + 90)]
    assert ha.bindings_of(MN)


def test_restore_reinstalls_alive_and_drops_expired():
    """Restart: bindings still alive get their tunnel and route back; expired ones are deleted."""
    ha = make_ha()
    alive = Binding(MN, FA, 600, NOW + 100, 1, "gre", False, FA)
    dead = Binding(MN2, FA, 600, NOW - 1, 1, "ipip", False, FA)
    acts = ha.restore([alive, dead], NOW)
    assert A.AddTunnelRoute(MN, HA, FA, "gre") in acts
    assert A.DeleteRecord(BINDINGS, MN2) in acts
    assert not [a for a in acts if isinstance(a, A.StoreRecord) and a.kind == BINDINGS]  # MN's record is as loaded
    assert A.ArmTimer(EXPIRY_TIMER, NOW + 100) in acts
    assert [b.home_address for b in ha.bindings()] == [MN]


def test_restore_refuses_replays_of_requests_accepted_before_the_restart():
    """§5.7.1: after a restart the last accepted timestamp comes back from the binding record itself
    (or from a replay record, whichever is newer), so a replayed request still gets 133."""
    ha = make_ha()
    data = request(ident=ntp_timestamp(NOW, 7))
    acts = ha.on_packet(packet(data), NOW)
    [stored] = [a.record for a in acts if isinstance(a, A.StoreRecord)]  # timestamps: no separate replay row
    assert [type(r) for r in stored] == [Binding]
    ha2 = make_ha()
    ha2.restore(stored, NOW + 1)
    assert reply_of(ha2.on_packet(packet(data), NOW + 2)).code == 133
    newer = ntp_timestamp(NOW + 1, 9)
    ha3 = make_ha()
    ha3.restore(stored, NOW + 1, {MN: newer})
    assert ha3.replay.last_accepted(MN) == newer


@pytest.mark.parametrize("ends", ["expiry", "deregistration", "expired-while-down"])
def test_replay_of_a_request_whose_binding_ended_is_refused_after_a_restart(ends):
    """§5.7.1: the last accepted timestamp outlives the binding row that held it, so a captured
    request replayed after the binding ended and the agent restarted, still inside the replay
    window, gets 133 and creates no binding."""
    ha = make_ha()
    captured = request(lifetime=2, ident=ntp_timestamp(NOW, 7))
    rows: dict = {}

    def persist(acts: list) -> None:
        for a in acts:
            if isinstance(a, A.StoreRecord):
                rows[(a.kind, a.record[0] if a.kind == "replay" else a.record[0].home_address)] = a.record
            elif isinstance(a, A.DeleteRecord):
                rows.pop((a.kind, a.key), None)

    persist(ha.on_packet(packet(captured), NOW))
    if ends == "expiry":
        persist(ha.on_timer(EXPIRY_TIMER, NOW + 2))
    elif ends == "deregistration":
        persist(ha.on_packet(packet(request(lifetime=0, ident=ntp_timestamp(NOW + 1, 8))), NOW + 1))
    else:  # stopped before it expired, started after: the restore deletes the row
        restarted = make_ha()
        persist(restarted.restore([b for (k, _), r in rows.items() if k == BINDINGS for b in r], NOW + 3))
    assert not [k for k in rows if k[0] == BINDINGS]
    after_restart = make_ha()
    after_restart.restore([b for (k, _), r in rows.items() if k == BINDINGS for b in r], NOW + 4,
                          {node: ident for (k, node), (_, ident) in
                           ((key, r) for key, r in rows.items() if key[0] == "replay")})
    acts = after_restart.on_packet(packet(captured), NOW + 5)
    assert reply_of(acts).code == 133
    assert after_restart.bindings() == []


def test_reload_keeps_bindings_and_only_shortens_lifetimes():
    """Reload: live bindings stay; a lower max_lifetime shortens them, never lengthens."""
    ha = make_ha()
    ha.on_packet(packet(request(lifetime=600)), NOW)
    new = HomeAgentConfig(HA, "home0", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24",)), max_lifetime=100)
    ha.on_config(new, ha.sas, NOW + 10)
    assert ha.bindings_of(MN)[0].expires == NOW + 110
    assert ha.on_timer(EXPIRY_TIMER, NOW + 110)
    assert ha.bindings_of(MN) == []


def test_shutdown_removes_everything_installed():
    """Clean shutdown: every tunnel, route and proxy entry undone (records kept for restart)."""
    ha = make_ha([mn_sa(), mn_sa(MN2)])
    ha.on_packet(packet(request()), NOW)
    ha.on_packet(packet(request(mn_sa(MN2), home=MN2, coa=FA2), source=FA2), NOW)
    acts = ha.shutdown()
    assert A.RemoveTunnelRoute(MN) in acts and A.RemoveTunnelRoute(MN2) in acts
    assert A.RemoveTunnel(HA, FA2, "ipip") in acts and A.SetProxyArp(MN2, "home0", False) in acts
    assert not any(isinstance(a, A.DeleteRecord) for a in acts)


# ---------------------------------------------------------------- hostile input


def test_unknown_nonskippable_extension_discards_whole_message():
    """§1.9: unrecognised type 0-127 -> the message is silently discarded."""
    ha = make_ha()
    data = request() + b"\x50\x02ab"
    assert ha.on_packet(packet(data), NOW) == []
    assert ha.counters["discard.unknown_extension"] == 1


def test_unknown_skippable_extension_is_ignored():
    """§1.9: unrecognised type 128-255 is skipped; the rest is processed."""
    data = request(before=[UnknownExtension(200, b"xyz")])
    assert reply_of(make_ha().on_packet(packet(data), NOW)).code == 0


def test_replies_and_icmp_are_not_processed():
    """§3.8: the HA only answers requests."""
    ha = make_ha()
    rep = reg.RegistrationReply(0, 10, MN, HA, 1).encode()
    assert ha.on_packet(packet(rep), NOW) == [] and ha.counters["discard.not_a_request"] == 1
    assert ha.on_packet(packet(b"\x0a\x00", icmp=True), NOW) == []
    assert ha.counters["discard.malformed_icmp"] == 1


def test_home_agent_advertises_on_home_link_and_answers_solicitations():
    """§2.3, §2.1.1: the HA advertises with H (not F) on its home link and answers solicitations."""
    from mipd.wire import icmp

    ha = make_ha()
    [arm] = ha.start(NOW)
    assert arm.key == ("ha-advertise", "home0")
    acts = ha.on_timer(arm.key, arm.at)
    send = next(a for a in acts if isinstance(a, A.SendICMP))
    adv = icmp.decode(send.payload)
    assert (send.dest, send.interface, send.ttl) == ("224.0.0.1", "home0", 1)
    assert adv.flags & icmp.ADV_H and not adv.flags & icmp.ADV_F
    assert adv.routers == [(HA, 0)] and adv.prefix_lengths == [24] and adv.care_of_addresses == []
    solicit = packet(icmp.AgentSolicitation().encode(), source="0.0.0.0", dest="224.0.0.11", icmp=True,
                     interface="home0")
    assert isinstance(ha.on_packet(solicit, NOW + 30)[0], A.SendICMP)
    assert make_ha(advertise=False).start(NOW) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_never_raise(data):
    """Bad input: discarded and counted, never an exception out of the core."""
    ha = make_ha()
    out = ha.on_packet(packet(b"\x01" + data), NOW)
    assert isinstance(out, list)
    assert sum(ha.counters.values()) >= 1


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.sampled_from([MN, MN2, "0.0.0.0", "10.1.0.255"]),
    st.sampled_from([HA, "10.1.0.255", "1.2.3.4"]),
    st.integers(0, 2**64 - 1),
)
def test_signed_requests_with_any_fields_never_raise(flags, lifetime, home, ha_field, ident):
    """Authenticated but odd requests always get a decision (reply or counted discard)."""
    ha = make_ha([mn_sa(), mn_sa(MN2)])
    sa = mn_sa(home) if home in (MN, MN2) else mn_sa()
    out = ha.on_packet(packet(request(sa, home=home, flags=flags, lifetime=lifetime, ha=ha_field, ident=ident)), NOW)
    assert all(isinstance(a, A.Action.__args__) for a in out)  # type: ignore[attr-defined]


def test_re_registration_pushes_no_expiry_entry():
    """A re-registration at the same care-of address adds nothing to the expiry heap: the entry
    of the first registration, when due, is pushed again at the binding's latest expiry."""
    ha = make_ha()
    for i in range(1000):
        t = NOW + i
        ha.on_packet(packet(request(lifetime=60, ident=ntp_timestamp(t))), t)
    assert len(ha._expiry) == 1
    last = NOW + 999
    assert ha.on_timer(EXPIRY_TIMER, NOW + 60) == [A.ArmTimer(EXPIRY_TIMER, last + 60)]  # pushed again
    assert ha.bindings_of(MN) and len(ha._expiry) == 1
    out = ha.on_timer(EXPIRY_TIMER, last + 60)
    assert A.RemoveTunnelRoute(MN) in out and ha.bindings_of(MN) == [] and ha._expiry == []


def test_shorter_lifetime_is_due_at_once():
    """A re-registration with a shorter lifetime than the binding had gets its own, earlier entry."""
    ha = make_ha()
    ha.on_packet(packet(request(lifetime=600)), NOW)
    acts = ha.on_packet(packet(request(lifetime=30, ident=ntp_timestamp(NOW + 1))), NOW + 1)
    assert A.ArmTimer(EXPIRY_TIMER, NOW + 31) in acts
    out = ha.on_timer(EXPIRY_TIMER, NOW + 31)
    assert A.RemoveTunnelRoute(MN) in out and ha.bindings_of(MN) == []


def test_a_move_pushes_no_expiry_entry():
    """The heap holds an entry per node, not per binding: a move to another care-of address pushes nothing
    (the node's entry, when due, is pushed again at its earliest expiry), and the node still expires on time."""
    ha = make_ha()
    for i in range(1, 200):
        t = NOW + i
        ha.on_packet(packet(request(lifetime=600, coa=(FA, FA2)[i % 2], ident=ntp_timestamp(t))), t)
        assert len(ha._expiry) == 1
    last = NOW + 199
    assert ha.on_timer(EXPIRY_TIMER, NOW + 601) == [A.ArmTimer(EXPIRY_TIMER, last + 600)]
    out = ha.on_timer(EXPIRY_TIMER, last + 600)
    assert A.RemoveTunnelRoute(MN) in out and ha.bindings_of(MN) == [] and ha._expiry == []


def test_expiry_heap_stays_bounded_under_shortened_lifetimes():
    """A re-registration with a shorter lifetime pushes an earlier entry beside the node's: repeated, the heap is
    rebuilt (one entry per node) before it grows past twice the node count, and expiry still works after."""
    from mipd.protocol.home_agent import COMPACT_SLACK

    ha = make_ha()
    for i in range(1, 3 * COMPACT_SLACK):
        t = NOW + i
        ha.on_packet(packet(request(lifetime=(600, 30)[i % 2], ident=ntp_timestamp(t))), t)
        assert len(ha._expiry) <= 2 * len(ha) + COMPACT_SLACK + 1
    assert ha.counters["expiry.compacted"] >= 1
    last = NOW + 3 * COMPACT_SLACK - 1  # an odd i: lifetime 30
    ha.on_timer(EXPIRY_TIMER, last + 29)
    assert ha.bindings_of(MN)
    out = ha.on_timer(EXPIRY_TIMER, last + 30)
    assert A.RemoveTunnelRoute(MN) in out and ha.bindings_of(MN) == []
