"""Foreign agent state machine: RFC 5944 §2.3 and §3.7, RFC 3024 §3-5, RFC 3012 §2-3, RFC 2794 §3.

Requests and replies are built with the wire codec and signed with mipd.security as a mobile
node and a home agent would; the assertions look at the returned actions and decode the bytes
the foreign agent sends.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from fa_helpers import (
    COA,
    ETH1,
    FA_HA,
    HA,
    HOME,
    ID,
    MN_AAA,
    MN_FA,
    MN_HA,
    MN_LLADDR,
    NAI,
    NOW,
    advert,
    agent,
    challenge_ext,
    config,
    decoded_reply,
    denial_code,
    encap_style,
    from_ha,
    from_mn,
    nai_ext,
    of_type,
    only,
    relay,
    reply_bytes,
    request_bytes,
    sent_udp,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.protocol.actions import (
    AddHostRoute,
    AddReverseTunnel,
    AddTunnel,
    ArmTimer,
    CancelTimer,
    DeleteRecord,
    Log,
    Packet,
    RemoveHostRoute,
    RemoveReverseTunnel,
    RemoveTunnel,
    SendICMP,
    SendUDP,
    StoreRecord,
)
from mipd.protocol.advertiser import TimingError, check_timing
from mipd.protocol.config import ForeignAgentConfig, ServedInterface
from mipd.protocol.filters import FilterRule, RegistrationFilters, RuleList
from mipd.protocol.foreign_agent import (
    ADVERTISE_TIMER,
    PENDING_TIMER,
    VISITOR_TIMER,
    ForeignAgent,
    Visitor,
)
from mipd.security import SecurityAssociation, SecurityAssociations, verify
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import (
    FHAE,
    MFAE,
    MHAE,
    AuthExtension,
    NAIExtension,
    UnknownExtension,
)

LOW = ID & 0xFFFFFFFF
PENDING_KEY = (PENDING_TIMER, HOME, LOW)
VISITOR_KEY = (VISITOR_TIMER, HOME)
FLAG_r, FLAG_x = 0x04, 0x01


def adv_timer(fa: ForeignAgent, name: str = "eth1", now: float = NOW) -> icmp.AgentAdvertisement:
    return advert(only(fa.on_timer((ADVERTISE_TIMER, name), now), SendICMP))


def started(*sas: SecurityAssociation, **kw) -> ForeignAgent:
    fa = agent(*sas, **kw)
    fa.start(NOW)
    return fa


def register(fa: ForeignAgent, *, req: bytes | None = None, rep: bytes | None = None, now: float = NOW) -> list:
    """Relay a request and feed the home agent's accepting reply; return the reply's actions."""
    relay(fa, req if req is not None else request_bytes(), now)
    return fa.on_packet(from_ha(rep if rep is not None else reply_bytes()), now + 0.1)


def auth_ext(data: bytes, ext_type: int) -> AuthExtension:
    msg = reg.decode(data)
    found = [e for e in msg.extensions if isinstance(e, AuthExtension) and e.type == ext_type]
    assert len(found) == 1, msg.extensions
    return found[0]


def mhae_end(data: bytes) -> int:
    e = auth_ext(data, MHAE)
    return e.offset + 6 + len(e.authenticator)


def assert_denied_to_mn(out: list, code: int, *, lifetime: int = 600, port: int = 49152) -> reg.RegistrationReply:
    """§3.7.2.3: fields copied from the request, addressed to the node on its link."""
    send = sent_udp(out)
    assert (send.dest, send.dest_port, send.source, send.source_port) == (HOME, port, COA, 434)
    assert (send.interface, send.lladdr) == ("eth1", MN_LLADDR)
    rep = reg.decode_reply(send.payload)
    assert (rep.code, rep.home_address, rep.home_agent, rep.identification) == (code, HOME, HA, ID)
    assert rep.lifetime == lifetime
    assert len(of_type(out, Log)) == 1
    return rep


# =========================================================================== configuration (§2.1)


def test_interval_longer_than_a_third_of_the_lifetime_is_refused():
    """RFC 5944 §2.1: the advertisement interval SHOULD be no longer than 1/3 of the Lifetime."""
    with pytest.raises(ValueError, match="advertisement_interval"):
        agent(advertisement_interval=5.1, advertisement_lifetime=15)
    agent(advertisement_interval=5.0, advertisement_lifetime=15)  # exactly a third is allowed


def test_on_config_validates_and_keeps_the_old_config_on_error():
    """RFC 5944 §2.1: a reload with interval > lifetime/3 is refused; nothing changes."""
    fa = started()
    bad = config(advertisement_interval=10.0, advertisement_lifetime=15)
    with pytest.raises(ValueError, match="advertisement_interval"):
        fa.on_config(bad, SecurityAssociations(), NOW)
    assert fa.config.advertisement_interval == 5.0


@pytest.mark.parametrize(
    ("interval", "lifetime", "field", "reason"),
    [
        (5.1, 15, "advertisement_interval", "5.1 s is more than 1/3 of the advertisement lifetime (15 s)"),
        (0.0, 15, "advertisement_interval", "must be > 0, got 0.0"),
        (1.0, 0, "advertisement_lifetime", "must be 1-65535, got 0"),
    ],
)
def test_timing_error_names_the_field_apart_from_the_reason(interval, lifetime, field, reason):
    """RFC 5944 §2.1: the one timing check (the config loader reuses it and names its own path)
    says which field is wrong and why, separately, and prefixes the field in its message."""
    with pytest.raises(TimingError) as caught:
        check_timing(interval, lifetime, "home_agent.")
    assert (caught.value.field, caught.value.reason[: len(reason)]) == (field, reason)
    assert str(caught.value) == f"home_agent.{field}: {caught.value.reason}"


@pytest.mark.parametrize(
    "field, value",
    [
        ("advertisement_code", 7),
        ("registration_lifetime", 0),
        ("reverse_tunnel", "maybe"),
        ("encapsulations", frozenset({"vxlan"})),
        ("interfaces", ()),
        ("pending_timeout", 0),
    ],
)
def test_other_invalid_settings_name_their_field(field, value):
    """RFC 5944 §2.1 (codes 0/16), §2.1.1 (registration lifetime), RFC 3024 modes: refused by name."""
    with pytest.raises(ValueError, match=field):
        agent(**{field: value})


# =========================================================================== advertisements (§2.3)


def test_start_arms_one_advertisement_timer_per_link_without_sending():
    """RFC 5944 §2.3: each served link is advertised on its own timer, started by start()."""
    fa = agent()
    out = fa.start(NOW)
    assert [type(a) for a in out] == [ArmTimer, ArmTimer]
    assert {a.key for a in out} == {(ADVERTISE_TIMER, "eth1"), (ADVERTISE_TIMER, "eth2")}
    assert all(NOW <= a.at <= NOW + 1.0 for a in out)


def test_advertisement_ip_fields_and_contents():
    """RFC 5944 §2.1 (TTL 1, 224.0.0.1, code, lifetime, own router address), §2.1.1 (F, M, G, T,
    registration lifetime, care-of address), §2.1.2 (prefix lengths), §2.3.2 (first sequence 0)."""
    fa = started()
    send = only(fa.on_timer((ADVERTISE_TIMER, "eth1"), NOW), SendICMP)
    assert (send.dest, send.ttl, send.interface, send.source) == ("224.0.0.1", 1, "eth1", "192.0.2.1")
    adv = advert(send)
    assert adv.code == 16 and adv.lifetime == 15 and adv.routers == [("192.0.2.1", 0)]
    assert adv.sequence == 0 and adv.registration_lifetime == 1800
    assert adv.flags == icmp.ADV_F | icmp.ADV_M | icmp.ADV_G | icmp.ADV_T
    assert adv.care_of_addresses == ["192.0.2.1"]
    assert adv.prefix_lengths == [24]
    assert adv.challenge is None


def test_advertisement_lists_the_configured_care_of_addresses():
    """RFC 5944 §2.1.1: the care-of addresses offered on the link (ServedInterface.care_of_addresses)."""
    adv = adv_timer(started(), "eth2")
    assert adv.care_of_addresses == ["203.0.113.7"]
    assert adv.routers == [("198.51.100.1", 0)]


@pytest.mark.parametrize(
    "settings_, flags",
    [
        (dict(registration_required=True), icmp.ADV_F | icmp.ADV_R | icmp.ADV_M | icmp.ADV_G | icmp.ADV_T),
        (dict(encapsulations=frozenset({"ipip"})), icmp.ADV_F | icmp.ADV_T),
        (dict(encapsulations=frozenset({"ipip", "gre"}), reverse_tunnel="off"), icmp.ADV_F | icmp.ADV_G),
        (dict(encapsulations=frozenset({"minimal"}), reverse_tunnel="mandatory"), icmp.ADV_F | icmp.ADV_M | icmp.ADV_T),
    ],
)
def test_advertisement_flags_follow_the_configuration(settings_, flags):
    """RFC 5944 §2.1.1 R/M/G bits; RFC 3024 §3.1 T when reverse tunnelling is offered or mandatory."""
    assert adv_timer(started(**settings_)).flags == flags


def test_code_zero_and_no_prefix_lengths_when_configured():
    """RFC 5944 §2.1 code 0 (routes common traffic); §2.1.2 Prefix-Lengths only when configured."""
    adv = adv_timer(started(advertisement_code=0, advertise_prefix_lengths=False))
    assert adv.code == 0 and adv.prefix_lengths is None


def test_advertisements_go_to_the_limited_broadcast_when_configured():
    """RFC 5944 §2.1: the destination is 224.0.0.1 or 255.255.255.255."""

    fa = ForeignAgent(ForeignAgentConfig((ETH1,), advertise_broadcast=True), SecurityAssociations(), random.Random(1))
    fa.start(NOW)
    assert only(fa.on_timer((ADVERTISE_TIMER, "eth1"), NOW), SendICMP).dest == "255.255.255.255"


def test_sequence_numbers_count_per_link_from_zero():
    """RFC 5944 §2.3.2: 0 for the first advertisement, then one more each time."""
    fa = started()
    assert [adv_timer(fa).sequence for _ in range(3)] == [0, 1, 2]
    assert adv_timer(fa, "eth2").sequence == 0


def test_sequence_number_0xffff_is_followed_by_256():
    """RFC 5944 §2.3.2: after 0xffff the sequence continues at 256, not 0."""
    fa = started(encapsulations=frozenset({"ipip"}), advertise_prefix_lengths=False)
    for _ in range(0xFFFF):
        fa.on_timer((ADVERTISE_TIMER, "eth1"), NOW)
    assert [adv_timer(fa).sequence for _ in range(2)] == [0xFFFF, 256]


def test_start_again_restarts_the_sequence_at_zero():
    """RFC 5944 §2.3.2: "After booting, an agent MUST use the number 0 for its first advertisement"."""
    fa = started()
    adv_timer(fa)
    adv_timer(fa)
    fa.shutdown()
    fa.start(NOW + 10)
    assert adv_timer(fa).sequence == 0


def test_next_advertisement_is_randomised_and_never_later_than_a_third_of_the_lifetime():
    """RFC 5944 §2.1: transmission times slightly randomised; interval at most Lifetime/3."""
    delays = set()
    for seed in range(40):
        fa = started(seed=seed, advertisement_interval=4.5, advertisement_lifetime=15)
        arm = only(fa.on_timer((ADVERTISE_TIMER, "eth1"), NOW), ArmTimer)
        assert arm.key == (ADVERTISE_TIMER, "eth1")
        delays.add(arm.at - NOW)
    assert all(4.5 * 0.75 <= d <= 5.0 for d in delays)
    assert len(delays) > 30


def test_busy_bit_when_the_visitor_limit_is_reached():
    """RFC 5944 §2.1.1 B: the foreign agent will not accept registrations from additional nodes."""
    fa = started(visitor_limit=1)
    assert not adv_timer(fa).flags & icmp.ADV_B
    register(fa)
    assert adv_timer(fa).flags & icmp.ADV_B


def test_solicitation_is_answered_at_once_on_its_link_and_rate_limited():
    """RFC 5944 §2.3: agents SHOULD respond to solicitations and MUST limit the rate of multicast
    advertisements (one solicited advertisement per link per second here)."""
    fa = agent()
    sol = Packet(icmp.AgentSolicitation().encode(), "0.0.0.0", "224.0.0.11", interface="eth2", icmp=True, ttl=1)
    first = only(fa.on_packet(sol, NOW), SendICMP)
    assert (first.interface, first.dest, first.ttl) == ("eth2", "224.0.0.1", 1)
    assert advert(first).care_of_addresses == ["203.0.113.7"] and advert(first).sequence == 0
    assert fa.on_packet(sol, NOW + 0.5) == []
    assert fa.counters["solicitation.rate_limited"] == 1
    assert advert(only(fa.on_packet(sol, NOW + 1.0), SendICMP)).sequence == 1


def test_solicitation_from_an_unserved_link_and_other_icmp_are_ignored():
    """RFC 5944 §2.3: only served links are advertised; other agents' advertisements need no answer."""
    fa = agent()
    sol = Packet(icmp.AgentSolicitation().encode(), "0.0.0.0", "224.0.0.11", interface="eth9", icmp=True)
    other = icmp.AgentAdvertisement(15, flags=icmp.ADV_F, care_of_addresses=["192.0.2.9"]).encode()
    assert fa.on_packet(sol, NOW) == []
    assert fa.on_packet(Packet(other, "192.0.2.9", "224.0.0.1", interface="eth1", icmp=True), NOW) == []
    assert fa.on_packet(Packet(b"\x0a\x00\x00", "192.0.2.9", "224.0.0.1", interface="eth1", icmp=True), NOW) == []
    assert fa.counters["discard.malformed_icmp"] == 1


def test_challenge_in_advertisements_changes_each_period_and_solicited_ones_repeat_it():
    """RFC 3012 §2: a random challenge (at least 32 bits) in each advertisement; solicited
    advertisements repeat the current one."""
    fa = started(challenge=True)
    c1 = adv_timer(fa).challenge
    c2 = adv_timer(fa).challenge
    assert c1 and c2 and len(c1) >= 4 and c1 != c2
    sol = Packet(icmp.AgentSolicitation().encode(), "0.0.0.0", "224.0.0.11", interface="eth1", icmp=True)
    assert advert(only(fa.on_packet(sol, NOW), SendICMP)).challenge == c2


# =========================================================================== request validity (§3.7.2.1)


@pytest.mark.parametrize("bit", [FLAG_r, FLAG_x])
def test_reserved_bits_are_refused_with_70(bit):
    """RFC 5944 §3.7.2.1 / §3.7.2.3: non-zero reserved bits -> 70 (poorly formed request)."""
    fa = started()
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(flags=bit)), NOW), 70)
    assert fa.counters["denied.70"] == 1 and fa.pending() == []


def test_care_of_address_not_offered_is_refused_with_77():
    """RFC 5944 §3.7.2.1: D=0, Lifetime != 0 and a care-of address we do not offer -> 77."""
    fa = started()
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(coa="192.0.2.99")), NOW), 77)
    # eth2's care-of address is not offered on eth1
    assert denial_code(fa.on_packet(from_mn(request_bytes(coa="203.0.113.7", ident=ID + 1)), NOW + 2)) == 77


def test_other_care_of_address_is_fine_for_colocated_or_deregistration():
    """RFC 5944 §3.7.2.1: the 77 rule applies only with D=0 and a nonzero lifetime."""
    fa = started()
    relay(fa, request_bytes(flags=reg.FLAG_D, coa="198.18.0.5"))
    relay(fa, request_bytes(lifetime=0, coa="198.18.0.5", ident=ID + 1))


def test_mfae_missing_is_refused_with_67_and_logged_as_security_exception():
    """RFC 5944 §3.7.2.1: sharing an SA with the node, no MFAE -> 67, logged as a security
    exception; §3.7.1: our reply carries an MFAE."""
    fa = started(MN_FA)
    out = fa.on_packet(from_mn(request_bytes()), NOW)
    assert_denied_to_mn(out, 67)
    log = only(out, Log)
    assert log.level == "warning" and log.fields["security_exception"] is True
    payload = sent_udp(out).payload
    assert verify(MN_FA, payload, auth_ext(payload, MFAE)) == MN_FA.algorithm


@pytest.mark.parametrize(
    "build",
    [
        lambda: request_bytes(mfae=replace(MN_FA, key=b"wrong-key")),
        lambda: request_bytes(mfae=replace(MN_FA, spi=0x999)),
        lambda: request_bytes(after_mhae=[AuthExtension(MFAE, 0x200, bytes(16))], mfae=MN_FA),
    ],
    ids=["bad-authenticator", "unknown-spi", "two-mfae"],
)
def test_bad_unknown_or_duplicate_mfae_is_refused_with_67(build):
    """RFC 5944 §3.7.2.1: exactly one MFAE, and its authenticator must verify -> else 67."""
    fa = started(MN_FA)
    assert_denied_to_mn(fa.on_packet(from_mn(build()), NOW), 67)
    assert fa.counters["security.mn_auth_failed"] == 1


def test_valid_mfae_is_relayed_and_an_sa_under_the_nai_counts():
    """RFC 5944 §3.7.2.1 (MFAE verified); RFC 2794: the node may be known by its NAI."""
    relay(started(MN_FA), request_bytes(mfae=MN_FA))
    by_nai = replace(MN_FA, peer=NAI)
    fa = started(by_nai)
    assert denial_code(fa.on_packet(from_mn(request_bytes(before_mhae=[nai_ext()])), NOW)) == 67
    relay(fa, request_bytes(before_mhae=[nai_ext()], mfae=by_nai, ident=ID + 1), NOW + 2)


def test_extensions_after_the_mfae_are_refused_with_70():
    """RFC 5944 §3.6.1.3: the MFAE is the last extension; what follows it is not authenticated."""
    fa = started(MN_FA)
    data = request_bytes(mfae=MN_FA) + UnknownExtension(200, b"x").encode()
    assert denial_code(fa.on_packet(from_mn(data), NOW)) == 70


def test_home_agent_address_of_ours_is_refused_with_194():
    """RFC 5944 §3.7.2: a Home Agent field naming one of our interfaces -> 194, never relayed."""
    fa = started()
    out = fa.on_packet(from_mn(request_bytes(ha="192.0.2.1")), NOW)
    rep = decoded_reply(out)
    assert rep.code == 194 and rep.home_agent == "192.0.2.1"
    assert denial_code(fa.on_packet(from_mn(request_bytes(ha="203.0.113.7", ident=2)), NOW + 2)) == 194


def test_lifetime_too_long_is_refused_with_69_and_our_maximum():
    """RFC 5944 §3.7.2.3: code 69 with the Lifetime set to the maximum we accept."""
    fa = started(registration_lifetime=900)
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(lifetime=901)), NOW), 69, lifetime=900)
    relay(fa, request_bytes(lifetime=900, ident=ID + 1), NOW + 2)


@pytest.mark.parametrize("flags", [reg.FLAG_M, reg.FLAG_G, reg.FLAG_M | reg.FLAG_G])
def test_unsupported_encapsulation_is_refused_with_72(flags):
    """RFC 5944 §3.4 code 72; RFC 3024 §4.2.1: unsupported encapsulation MUST get 72."""
    fa = started(encapsulations=frozenset({"ipip"}))
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(flags=flags)), NOW), 72)


def test_reverse_tunnel_not_offered_is_refused_with_74():
    """RFC 3024 §3.4/§4.2.1: T requested from a foreign agent without reverse tunnelling -> 74."""
    fa = started(reverse_tunnel="off")
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(flags=reg.FLAG_T)), NOW), 74)


def test_reverse_tunnel_mandatory_without_t_is_refused_with_75():
    """RFC 3024 §4.2.1: the foreign agent MAY deny requests without T with 75."""
    fa = started(reverse_tunnel="mandatory")
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes()), NOW), 75)
    relay(fa, request_bytes(flags=reg.FLAG_T, ident=ID + 1), NOW + 2)
    relay(fa, request_bytes(lifetime=0, ident=ID + 2), NOW + 4)  # a deregistration is not refused


def test_reverse_tunnel_request_with_ttl_below_255_is_refused_with_76():
    """RFC 3024 §4.2.1: the IP TTL of a request with T MUST be 255, else 76, at most one per second."""
    fa = started()
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes(flags=reg.FLAG_T), ttl=64), NOW), 76)
    other = request_bytes(flags=reg.FLAG_T, home="10.1.1.11")
    out = fa.on_packet(Packet(other, "10.1.1.11", COA, 434, "eth1", None, ttl=64), NOW + 0.5)
    assert of_type(out, SendUDP) == [] and only(out, Log).fields["code"] == 76  # global 1/s limit
    relay(fa, request_bytes(flags=reg.FLAG_T, ident=ID + 1), NOW + 2, ttl=255)


def test_encapsulating_delivery_style_without_t_or_before_the_mhae_is_refused_with_70():
    """RFC 3024 §3.3: the extension MUST NOT be sent without T, and comes after the MHAE."""
    fa = started()
    assert denial_code(fa.on_packet(from_mn(request_bytes(after_mhae=[encap_style()])), NOW)) == 70
    early = request_bytes(flags=reg.FLAG_T, before_mhae=[encap_style()], ident=ID + 1)
    assert denial_code(fa.on_packet(from_mn(early), NOW + 2)) == 70


def test_home_agent_filter_refuses_with_65():
    """RFC 5944 §3.4 code 65 (administratively prohibited): the home agents visitors may use."""
    deny_ha = RuleList((FilterRule("deny", prefix="10.1.0.0/16"),))
    fa = started(filters=RegistrationFilters(home_agents=deny_ha))
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes()), NOW), 65)
    relay(fa, request_bytes(ha="10.9.9.9", ident=ID + 1), NOW + 2)


def test_pending_limit_refuses_with_66_but_a_retransmission_is_relayed_again():
    """RFC 5944 §3.7.1: beyond the configured number of pending requests -> 66."""
    fa = started(pending_limit=1)
    relay(fa, request_bytes())
    other = request_bytes(home="10.1.1.11")
    out = fa.on_packet(Packet(other, "10.1.1.11", COA, 434, "eth1", None, ttl=255), NOW)
    assert denial_code(out) == 66
    relay(fa, request_bytes(), NOW + 1)  # the same (node, identification): replaces the pending entry
    assert len(fa.pending()) == 1


def test_visitor_limit_refuses_new_nodes_with_66_only():
    """RFC 5944 §2.1.1 B / §3.4 66: a full foreign agent still serves the nodes it has."""
    fa = started(visitor_limit=1)
    register(fa)
    newcomer = request_bytes(home="10.1.1.11")
    out = fa.on_packet(Packet(newcomer, "10.1.1.11", COA, 434, "eth1", None, ttl=255), NOW + 1)
    assert denial_code(out) == 66
    relay(fa, request_bytes(ident=ID + 1), NOW + 2)  # the visitor re-registers
    bye = request_bytes(home="10.1.1.12", lifetime=0)
    assert sent_udp(fa.on_packet(Packet(bye, "10.1.1.12", COA, 434, "eth1", None), NOW + 3)).dest == HA


def test_pending_newcomers_count_against_the_visitor_limit():
    """RFC 5944 §3.4 66: two new nodes pending for one free place -> the second is refused."""
    fa = started(visitor_limit=1)
    relay(fa, request_bytes())
    other = request_bytes(home="10.1.1.11")
    assert denial_code(fa.on_packet(Packet(other, "10.1.1.11", COA, 434, "eth1", None), NOW)) == 66


def test_request_without_authorization_enabling_extension_is_refused_with_70():
    """RFC 5944 §3.6.1.3, RFC 3024 §4: an MHAE (or MN-AAA) must authenticate the node to its HA."""
    fa = started()
    assert denial_code(fa.on_packet(from_mn(request_bytes(mhae=False)), NOW)) == 70


def test_zero_home_address_without_nai_is_refused_with_70():
    """RFC 2794 §2: Home Address 0 only together with the NAI extension."""
    fa = started()
    out = fa.on_packet(from_mn(request_bytes(home="0.0.0.0")), NOW)
    send = sent_udp(out)
    assert decoded_reply(out).code == 70 and send.dest == "255.255.255.255"  # §3.7.2.3


def test_unparsable_extensions_with_a_decodable_fixed_part_get_70():
    """RFC 5944 §3.7.2.3: a poorly formed request is answered with 70 when the reply can be built."""
    fa = started()
    data = request_bytes() + bytes((200, 9, 1))  # extension runs past the end
    assert_denied_to_mn(fa.on_packet(from_mn(data), NOW), 70)


def test_unknown_non_skippable_extension_is_silently_discarded():
    """RFC 5944 §1.9: an unrecognised extension of type 0-127 -> the message is silently discarded."""
    fa = started()
    data = request_bytes(before_mhae=[UnknownExtension(100, b"zz")])
    assert fa.on_packet(from_mn(data), NOW) == []
    assert fa.counters["discard.unknown_extension"] == 1


def test_short_garbage_and_requests_from_unserved_links_are_discarded():
    """RFC 5944 §3.7.2: requests come from visitors on our links; a truncated fixed part cannot be answered."""
    fa = started()
    assert fa.on_packet(from_mn(request_bytes()[:23]), NOW) == []
    assert fa.on_packet(from_mn(b""), NOW) == []
    assert fa.on_packet(from_mn(request_bytes(), iface="eth0"), NOW) == []
    assert fa.counters["discard.malformed"] == 2
    assert fa.counters["discard.request_off_served_link"] == 1


def test_at_most_one_denial_per_second_to_the_same_node():
    """RFC 5944 §3.7.2: no more than one denial per second to the same mobile node; each decision is logged."""
    fa = started()
    bad = request_bytes(flags=FLAG_r)
    assert len(of_type(fa.on_packet(from_mn(bad), NOW), SendUDP)) == 1
    second = fa.on_packet(from_mn(bad), NOW + 0.9)
    assert of_type(second, SendUDP) == [] and only(second, Log).fields["reply_suppressed"] is True
    assert len(of_type(fa.on_packet(from_mn(bad), NOW + 1.0), SendUDP)) == 1


def test_denial_reply_source_is_our_address_when_sent_to_the_agents_multicast_group():
    """RFC 5944 §3.7.2.3: IP source copied from the request's destination unless it was multicast."""
    fa = started()
    out = fa.on_packet(from_mn(request_bytes(flags=FLAG_r), dest="224.0.0.11", port=434), NOW)
    assert (sent_udp(out).source, sent_udp(out).dest_port) == ("192.0.2.1", 434)


def test_denial_log_has_node_coa_code_reason_and_no_key_material():
    """RFC 5944 §3.7.2.1 "log the event"; keys never appear in logs (§5.1)."""
    fa = started(MN_FA, FA_HA)
    out = fa.on_packet(from_mn(request_bytes(mfae=replace(MN_FA, key=b"wrong-key"))), NOW)
    log = only(out, Log)
    assert {k: log.fields[k] for k in ("node", "coa", "code")} == {"node": HOME, "coa": COA, "code": 67}
    assert log.fields["reason"]
    text = repr(out) + repr(fa.visitors()) + repr(fa.pending())
    for key in (MN_FA.key, FA_HA.key):
        assert key.decode() not in text and key.hex() not in text


# =========================================================================== challenges (RFC 3012 §3.2)


def challenged(*sas: SecurityAssociation) -> tuple[ForeignAgent, bytes]:
    fa = started(*sas, challenge=True)
    return fa, adv_timer(fa).challenge


def test_missing_challenge_is_refused_with_105():
    """RFC 3012 §3.2: the challenge extension is needed and absent -> MISSING_CHALLENGE (105)."""
    fa, _ = challenged()
    assert_denied_to_mn(fa.on_packet(from_mn(request_bytes()), NOW), 105)


def test_unknown_challenge_is_refused_with_104():
    """RFC 3012 §3.2: a challenge not among the last CHALLENGE_WINDOW advertised -> UNKNOWN_CHALLENGE (104)."""
    fa, c = challenged(MN_FA)
    wrong = request_bytes(after_mhae=[challenge_ext(b"\x00" * 16)], mfae=MN_FA)
    assert denial_code(fa.on_packet(from_mn(wrong), NOW)) == 104
    adv_timer(fa)
    adv_timer(fa)  # two newer challenges push c out of the window of 2
    late = request_bytes(after_mhae=[challenge_ext(c)], mfae=MN_FA, ident=ID + 1)
    assert denial_code(fa.on_packet(from_mn(late), NOW + 2)) == 104


def test_challenge_on_another_link_is_unknown():
    """RFC 3012 §3.2: only challenges advertised on the node's link are accepted."""
    fa, _ = challenged(MN_FA)
    other = adv_timer(fa, "eth2").challenge
    data = request_bytes(after_mhae=[challenge_ext(other)], mfae=MN_FA)
    assert denial_code(fa.on_packet(from_mn(data), NOW)) == 104


def test_challenge_reused_by_the_node_is_refused_with_106_but_a_retransmission_is_relayed():
    """RFC 3012 §3.2: a previously used challenge -> STALE_CHALLENGE (106), except a retransmission
    with the same Identification and challenge while the request is still pending."""
    fa, c = challenged(MN_FA)
    first = request_bytes(after_mhae=[challenge_ext(c)], mfae=MN_FA)
    relay(fa, first)
    relay(fa, first, NOW + 1)  # retransmission
    fa.on_packet(from_ha(reply_bytes()), NOW + 2)
    again = request_bytes(after_mhae=[challenge_ext(c)], mfae=MN_FA, ident=ID + 1)
    assert denial_code(fa.on_packet(from_mn(again), NOW + 3)) == 106


def test_challenge_without_following_authenticator_is_silently_discarded():
    """RFC 3012 §3.2: a challenge with no MFAE or MN-AAA after it MUST be silently discarded."""
    fa, c = challenged()
    assert fa.on_packet(from_mn(request_bytes(after_mhae=[challenge_ext(c)])), NOW) == []
    assert fa.counters["discard.challenge_unauthenticated"] == 1


def test_challenge_under_mn_aaa_is_relayed_and_the_reply_must_echo_it():
    """RFC 3012 §3.2: with MN-AAA the challenge precedes the authorization-enabling extension, so it
    is relayed unchanged; a reply not echoing it is rejected to the node with MISSING_CHALLENGE."""
    fa, c = challenged()
    req = request_bytes(before_mhae=[nai_ext()], after_mhae=[challenge_ext(c)], mn_aaa=MN_AAA)
    assert relay(fa, req).payload == req  # everything up to and including MN-AAA, untouched
    out = fa.on_packet(from_ha(reply_bytes(before_mhae=[nai_ext()])), NOW + 1)
    assert denial_code(out) == 105 and fa.visitors() == []


def test_reply_echoing_the_relayed_challenge_is_relayed():
    """RFC 3012 §3.4: the home agent puts the challenge after the MHAE; the FA strips it (§3.7.3.2)."""
    fa, c = challenged()
    relay(fa, request_bytes(before_mhae=[nai_ext()], after_mhae=[challenge_ext(c)], mn_aaa=MN_AAA))
    rep = reply_bytes(before_mhae=[nai_ext()], after_mhae=[challenge_ext(c)])
    out = fa.on_packet(from_ha(rep), NOW + 1)
    assert sent_udp(out).payload == rep[: mhae_end(rep)]
    assert len(fa.visitors()) == 1


# =========================================================================== relaying requests (§3.7.2.2)


def test_relayed_request_is_byte_exact_through_the_mhae_with_fhae_appended():
    """RFC 5944 §3.7.2.2: fields up to the MHAE unchanged, extensions after it (for the FA) removed,
    FHAE appended with the FA-HA SA; sent from the care-of address to the HA's port 434."""
    fa = started(MN_FA, FA_HA)
    mn_bytes = request_bytes(
        before_mhae=[nai_ext(), UnknownExtension(200, b"for the HA")],
        after_mhae=[UnknownExtension(201, b"for the FA")],
        mfae=MN_FA,
    )
    send = relay(fa, mn_bytes)
    assert (send.dest, send.dest_port, send.source) == (HA, 434, COA)
    upto = mhae_end(mn_bytes)
    assert send.payload[:upto] == mn_bytes[:upto]
    relayed = reg.decode_request(send.payload)
    assert [e.type for e in relayed.extensions] == [131, 200, MHAE, FHAE]
    ha_view = replace(FA_HA, peer=COA)  # the home agent's copy of the same SA
    assert verify(ha_view, send.payload, auth_ext(send.payload, FHAE)) == FA_HA.algorithm
    assert verify(MN_HA, send.payload, auth_ext(send.payload, MHAE)) == MN_HA.algorithm


def test_fhae_uses_the_newest_fa_ha_sa():
    """RFC 5944 §3.5 key rotation: with two FA-HA SAs the FHAE is computed with the newest (added
    last), as mobile nodes choose their MHAE SA."""
    newer = replace(FA_HA, spi=FA_HA.spi + 1, key=b"\x24" * 16)
    send = relay(started(FA_HA, newer), request_bytes())
    assert auth_ext(send.payload, FHAE).spi == newer.spi


def test_without_an_fa_ha_sa_the_relayed_bytes_stop_at_the_mhae():
    """RFC 5944 §3.7.2.2: the FHAE is added only when the FA shares an SA with the home agent."""
    mn_bytes = request_bytes(after_mhae=[UnknownExtension(201, b"x")])
    assert relay(started(), mn_bytes).payload == mn_bytes[: mhae_end(mn_bytes)]


def test_deregistration_is_relayed_without_fhae():
    """RFC 5944 §3.7.2.2: the FHAE is appended only when the Request has Lifetime != 0."""
    mn_bytes = request_bytes(lifetime=0)
    assert relay(started(FA_HA), mn_bytes).payload == mn_bytes


def test_relay_records_a_pending_entry_and_arms_its_timeout():
    """RFC 5944 §3.7.1: pending entry (link-layer address, addresses, port, HA, identification,
    requested lifetime); 7 s pending timeout by default."""
    fa = started()
    out = fa.on_packet(from_mn(request_bytes(flags=reg.FLAG_T | reg.FLAG_G)), NOW)
    assert only(out, ArmTimer) == ArmTimer(PENDING_KEY, NOW + 7.0)
    assert len(of_type(out, Log)) == 1
    (p,) = fa.pending(NOW + 2)
    assert (p.home_address, p.care_of_address, p.home_agent, p.interface, p.lladdr) == (
        HOME,
        COA,
        HA,
        "eth1",
        MN_LLADDR,
    )
    assert (p.identification, p.lifetime, p.reverse_tunnel, p.encap, p.timeout_left) == (ID, 600, True, "gre", 5.0)


def test_pending_request_times_out_with_78_and_a_late_reply_is_discarded():
    """RFC 5944 §3.7.1: a request pending more than 7 s is rejected with 78 (registration timeout)."""
    fa = started()
    relay(fa, request_bytes())
    assert fa.on_timer(PENDING_KEY, NOW + 6.9) == []  # not yet due
    assert_denied_to_mn(fa.on_timer(PENDING_KEY, NOW + 7.0), 78)
    assert fa.pending() == []
    assert fa.on_packet(from_ha(reply_bytes()), NOW + 8) == []
    assert fa.counters["discard.unmatched_reply"] == 1 and fa.visitors() == []


def test_retransmission_moves_the_pending_deadline():
    """RFC 5944 §3.7.1: the timeout counts from the latest relay of the pending request."""
    fa = started()
    relay(fa, request_bytes())
    relay(fa, request_bytes(), NOW + 3)
    assert fa.on_timer(PENDING_KEY, NOW + 7) == []
    assert denial_code(fa.on_timer(PENDING_KEY, NOW + 10)) == 78


@pytest.mark.parametrize("icmp_type, icmp_code, code", [(3, 0, 80), (3, 1, 81), (3, 3, 82), (3, 13, 88), (11, 0, 88)])
def test_icmp_error_for_a_relayed_request_denies_with_80_to_88(icmp_type, icmp_code, code):
    """RFC 5944 §3.7.3: an ICMP error instead of a reply -> "home agent unreachable" code (80-95)."""
    fa = started()
    relay(fa, request_bytes())
    out = fa.on_icmp_error(HA, icmp_type, icmp_code, NOW + 1)
    assert CancelTimer(PENDING_KEY) in out
    assert_denied_to_mn(out, code)
    assert fa.pending() == []


def test_icmp_error_for_an_unknown_destination_does_nothing():
    """RFC 5944 §3.7.3: only requests relayed to that destination are affected."""
    fa = started()
    relay(fa, request_bytes())
    assert fa.on_icmp_error("10.9.9.9", 3, 1, NOW) == []
    assert len(fa.pending()) == 1


# =========================================================================== replies (§3.7.3)


def test_reply_is_matched_on_home_address_and_low_32_bits_of_identification():
    """RFC 5944 §3.7.3.1 and §5.7: unmatched replies are silently discarded; the high 32 bits may differ."""
    fa = started()
    relay(fa, request_bytes())
    assert fa.on_packet(from_ha(reply_bytes(ident=ID + 1)), NOW) == []
    assert fa.on_packet(from_ha(reply_bytes(home="10.1.1.11")), NOW) == []
    assert fa.counters["discard.unmatched_reply"] == 2
    nonce_reply = reply_bytes(ident=(0x12345678 << 32) | LOW)
    assert sent_udp(fa.on_packet(from_ha(nonce_reply), NOW)).dest == HOME


def test_relayed_reply_keeps_the_bytes_through_the_mhae_and_adds_our_mfae():
    """RFC 5944 §3.7.3.2: fields through the MHAE unchanged, extensions for the FA removed, MFAE
    appended when sharing an SA with the node; addressed as §3.7.2.3 says."""
    fa = started(MN_FA, FA_HA)
    relay(fa, request_bytes(mfae=MN_FA))
    ha_bytes = reply_bytes(after_mhae=[UnknownExtension(202, b"for the FA")], fhae=FA_HA)
    send = sent_udp(fa.on_packet(from_ha(ha_bytes), NOW + 1))
    assert (send.dest, send.dest_port, send.source, send.source_port) == (HOME, 49152, COA, 434)
    assert (send.interface, send.lladdr) == ("eth1", MN_LLADDR)
    upto = mhae_end(ha_bytes)
    assert send.payload[:upto] == ha_bytes[:upto]
    assert [e.type for e in reg.decode_reply(send.payload).extensions] == [MHAE, MFAE]
    assert verify(MN_FA, send.payload, auth_ext(send.payload, MFAE)) == MN_FA.algorithm


@pytest.mark.parametrize(
    "fhae",
    [None, replace(FA_HA, key=b"wrong"), replace(FA_HA, spi=0x301)],
    ids=["missing", "bad", "unknown-spi"],
)
def test_reply_failing_fhae_is_rejected_to_the_node_with_68(fhae):
    """RFC 5944 §3.7.3.1: with an SA with the HA, exactly one valid FHAE, else reject with 68 and log."""
    fa = started(FA_HA)
    relay(fa, request_bytes())
    out = fa.on_packet(from_ha(reply_bytes(fhae=fhae)), NOW + 1)
    assert_denied_to_mn(out, 68)
    assert only(out, Log).fields["security_exception"] is True
    assert fa.visitors() == [] and fa.pending() == []
    assert of_type(out, StoreRecord) == [] and of_type(out, AddTunnel) == []


def test_zero_lifetime_reply_needs_no_fhae():
    """RFC 5944 §3.7.1: the FHAE in the reply is checked when the reply has a nonzero Lifetime."""
    fa = started(FA_HA)
    relay(fa, request_bytes(lifetime=0))
    assert decoded_reply(fa.on_packet(from_ha(reply_bytes(lifetime=0)), NOW)).code == 0


def test_poorly_formed_reply_is_answered_with_71():
    """RFC 5944 §3.4 code 71: a reply without MHAE, or with extensions that do not parse."""
    fa = started()
    relay(fa, request_bytes())
    assert_denied_to_mn(fa.on_packet(from_ha(reply_bytes(mhae=False)), NOW + 1), 71)
    relay(fa, request_bytes(ident=ID + 1), NOW + 2)
    out = fa.on_packet(from_ha(reply_bytes(ident=ID + 1) + b"\xc8\x09"), NOW + 3)
    assert decoded_reply(out).code == 71 and decoded_reply(out).identification == ID + 1


def test_reply_with_unknown_non_skippable_extension_is_silently_discarded():
    """RFC 5944 §1.9: silently discarded; the node hears 78 when the pending request times out."""
    fa = started()
    relay(fa, request_bytes())
    assert fa.on_packet(from_ha(reply_bytes(before_mhae=[UnknownExtension(99, b"")])), NOW) == []
    assert len(fa.pending()) == 1


def test_accepting_reply_installs_the_visitor_before_relaying():
    """RFC 5944 §3.7.3.2 (visitor entry, lifetime counted from relaying), §4.2.2 (decapsulate and
    deliver to the visitor's link-layer address); the record is stored before the reply leaves."""
    fa = started()
    out = register(fa)
    assert [type(a) for a in out] == [CancelTimer, AddTunnel, AddHostRoute, StoreRecord, ArmTimer, Log, SendUDP]
    assert out[1] == AddTunnel(COA, HA, "ipip")
    assert out[2] == AddHostRoute(HOME, "eth1", MN_LLADDR)
    assert out[3].kind == "visitor" and out[3].record.home_address == HOME
    assert out[4] == ArmTimer(VISITOR_KEY, NOW + 0.1 + 600)
    (v,) = fa.visitors(NOW + 100.1)
    assert (v.home_address, v.care_of_address, v.home_agent, v.interface, v.lladdr) == (
        HOME,
        COA,
        HA,
        "eth1",
        MN_LLADDR,
    )
    assert (v.lifetime_left, v.identification, v.reverse_tunnel, v.encap) == (500, ID, False, "ipip")


def test_visitor_lifetime_is_the_smaller_of_granted_and_requested():
    """RFC 5944 §3.7.3.2: min of the reply's Lifetime and what we allow (the request's)."""
    fa = started()
    register(fa, req=request_bytes(lifetime=600), rep=reply_bytes(lifetime=300))
    assert fa.visitors(NOW + 0.1)[0].lifetime_left == 300
    register(fa, req=request_bytes(lifetime=200, ident=ID + 1), rep=reply_bytes(lifetime=900, ident=ID + 1))
    assert fa.visitors(NOW + 0.1)[0].lifetime_left == 200


def test_reverse_tunnel_granted_installs_direct_delivery():
    """RFC 3024 §4.2.2 and §5.1: T granted -> packets from the home address on the visitor's link
    are tunnelled from the care-of address to the HA with the forward tunnel's encapsulation."""
    fa = started()
    out = register(fa, req=request_bytes(flags=reg.FLAG_T | reg.FLAG_G))
    assert only(out, AddTunnel) == AddTunnel(COA, HA, "gre")
    assert only(out, AddReverseTunnel) == AddReverseTunnel(HOME, COA, HA, "gre", "eth1", "direct")
    assert fa.visitors()[0].reverse_tunnel is True


def test_encapsulating_delivery_style_is_consumed_and_installed():
    """RFC 3024 §3.3: the FA consumes the extension (not relayed); §5.2: encapsulating delivery."""
    fa = started()
    req = request_bytes(flags=reg.FLAG_T, after_mhae=[encap_style()])
    assert relay(fa, req).payload == req[: mhae_end(req)]
    out = fa.on_packet(from_ha(reply_bytes()), NOW + 1)
    assert only(out, AddReverseTunnel).delivery == "encapsulating"
    assert fa.visitors()[0].delivery == "encapsulating"


def test_home_agent_denial_is_relayed_and_creates_no_visitor():
    """RFC 5944 §3.7.3.2: denied by the HA -> pending entry deleted, no visitor entry, reply relayed."""
    fa = started()
    relay(fa, request_bytes())
    out = fa.on_packet(from_ha(reply_bytes(code=130)), NOW + 1)
    assert decoded_reply(out).code == 130 and fa.visitors() == [] and fa.pending() == []
    assert of_type(out, StoreRecord) == [] and of_type(out, AddTunnel) == []


def test_existing_visitor_is_unchanged_by_a_pending_request_and_by_a_denial():
    """RFC 5944 §3.7.2: the visitor entry is not modified until a valid accepting reply arrives,
    and MUST NOT be modified by a denial."""
    fa = started()
    register(fa)
    before = fa.visitors(NOW + 1)
    relay(fa, request_bytes(flags=reg.FLAG_T, lifetime=900, ident=ID + 1), NOW + 1)
    assert fa.visitors(NOW + 1) == before
    out = fa.on_packet(from_ha(reply_bytes(code=129, ident=ID + 1)), NOW + 2)
    assert decoded_reply(out).code == 129
    assert fa.visitors(NOW + 1) == before
    assert of_type(out, RemoveTunnel) == [] and of_type(out, DeleteRecord) == []


def test_reregistration_with_the_same_tunnel_changes_no_data_plane_state():
    """RFC 5944 §3.7.3.2: a renewed registration only resets the lifetime."""
    fa = started()
    register(fa)
    out = register(fa, req=request_bytes(ident=ID + 1), rep=reply_bytes(ident=ID + 1), now=NOW + 300)
    assert [type(a) for a in out] == [CancelTimer, StoreRecord, ArmTimer, Log, SendUDP]
    assert out[2] == ArmTimer(VISITOR_KEY, NOW + 300.1 + 600)


def test_moving_to_another_link_adds_the_new_tunnel_before_removing_the_old():
    """RFC 5944 §4.2.2: the visitor is reached through its new care-of address and link."""
    fa = started()
    register(fa)
    req = request_bytes(coa="203.0.113.7", ident=ID + 1)
    relay(fa, req, NOW + 5, iface="eth2", dest="203.0.113.7")
    out = fa.on_packet(from_ha(reply_bytes(ident=ID + 1)), NOW + 6)
    changes = [a for a in out if isinstance(a, (AddTunnel, RemoveTunnel, AddHostRoute, RemoveHostRoute))]
    assert changes == [
        AddTunnel("203.0.113.7", HA, "ipip"),
        RemoveHostRoute(HOME, "eth1"),
        AddHostRoute(HOME, "eth2", MN_LLADDR),
        RemoveTunnel(COA, HA, "ipip"),
    ]
    assert sent_udp(out).interface == "eth2" and sent_udp(out).source == "203.0.113.7"


def test_accepted_deregistration_removes_the_visitor():
    """RFC 5944 §3.7.3.2: an accepted reply with Lifetime 0 -> delete the visitor list entry."""
    fa = started()
    register(fa, req=request_bytes(flags=reg.FLAG_T))
    relay(fa, request_bytes(lifetime=0, ident=ID + 1), NOW + 10)
    out = fa.on_packet(from_ha(reply_bytes(lifetime=0, ident=ID + 1)), NOW + 11)
    removal = [a for a in out if not isinstance(a, (Log, SendUDP, CancelTimer))]
    assert removal == [
        RemoveHostRoute(HOME, "eth1"),
        RemoveReverseTunnel(HOME),
        RemoveTunnel(COA, HA, "ipip"),
        DeleteRecord("visitor", HOME),
    ]
    assert CancelTimer(VISITOR_KEY) in out
    assert fa.visitors() == [] and decoded_reply(out).lifetime == 0


def test_visitor_expiry_removes_state_and_sends_nothing():
    """RFC 5944 §3.7: the FA MUST NOT generate a Request or Reply because a lifetime expired."""
    fa = started()
    register(fa, req=request_bytes(flags=reg.FLAG_T))
    assert fa.on_timer(VISITOR_KEY, NOW + 600) == []  # not yet (expires at NOW + 600.1)
    out = fa.on_timer(VISITOR_KEY, NOW + 600.1)
    assert of_type(out, SendUDP) == [] and of_type(out, SendICMP) == []
    assert [a for a in out if not isinstance(a, (Log, CancelTimer))] == [
        RemoveHostRoute(HOME, "eth1"),
        RemoveReverseTunnel(HOME),
        RemoveTunnel(COA, HA, "ipip"),
        DeleteRecord("visitor", HOME),
    ]
    assert fa.visitors() == [] and fa.counters["visitor.expired"] == 1


def test_colocated_registration_through_the_fa_installs_nothing():
    """RFC 5944 §3.7.2.2/§2.1.1 R: a colocated node registering via us is relayed from our care-of
    address; it decapsulates itself, so no tunnel or route is installed here."""
    fa = started()
    send = relay(fa, request_bytes(flags=reg.FLAG_D, coa="198.18.0.5"))
    assert send.source == COA
    out = fa.on_packet(from_ha(reply_bytes()), NOW + 1)
    assert of_type(out, AddTunnel) == [] and of_type(out, AddHostRoute) == []
    assert len(of_type(out, StoreRecord)) == 1 and len(fa.visitors()) == 1


def test_infinite_lifetime_visitor_has_no_expiry_timer():
    """RFC 5944 §3.3: Lifetime 0xffff is infinite."""
    fa = started(registration_lifetime=0xFFFF)
    out = register(fa, req=request_bytes(lifetime=0xFFFF), rep=reply_bytes(lifetime=0xFFFF))
    assert not any(isinstance(a, ArmTimer) and a.key == VISITOR_KEY for a in out)
    assert fa.visitors(NOW + 10**6)[0].lifetime_left == 0xFFFF


# =========================================================================== NAI (RFC 2794 §3)


def nai_request(**kw) -> bytes:
    return request_bytes(home="0.0.0.0", before_mhae=[nai_ext()], **kw)


def test_nai_registration_with_zero_home_address_is_matched_by_nai():
    """RFC 2794 §3: with Home Address 0 the pending record is kept under the NAI; the reply carries
    the assigned home address, and the visitor is installed for it."""
    fa = started()
    relay(fa, nai_request())
    assert fa.pending()[0].nai == NAI
    out = fa.on_packet(from_ha(reply_bytes(home="10.1.1.99", before_mhae=[nai_ext()])), NOW + 1)
    assert sent_udp(out).dest == "10.1.1.99"
    assert only(out, AddHostRoute) == AddHostRoute("10.1.1.99", "eth1", MN_LLADDR)
    (v,) = fa.visitors()
    assert (v.home_address, v.nai) == ("10.1.1.99", NAI)


def test_nai_denial_carries_the_nai_and_goes_to_the_limited_broadcast():
    """RFC 5944 §3.7.2.3 (255.255.255.255 when the home address is 0); RFC 2794 (NAI identifies the node)."""
    fa = started()
    out = fa.on_packet(from_mn(nai_request(lifetime=5000)), NOW)
    send = sent_udp(out)
    assert send.dest == "255.255.255.255" and send.lladdr == MN_LLADDR
    rep = reg.decode_reply(send.payload)
    assert rep.code == 69 and [e.nai for e in rep.extensions if isinstance(e, NAIExtension)] == [NAI]


@pytest.mark.parametrize(
    "rep, code",
    [
        (reply_bytes(home="10.1.1.99"), 97),
        (reply_bytes(home="10.1.1.99", ha="0.0.0.0", before_mhae=[nai_ext()]), 98),
        (reply_bytes(home="0.0.0.0", before_mhae=[nai_ext()]), 99),
    ],
    ids=["missing-nai", "missing-home-agent", "missing-home-address"],
)
def test_nai_reply_checks(rep, code):
    """RFC 2794 §3: the reply MUST carry the NAI (97), a home agent (98) and a home address (99)."""
    fa = started()
    relay(fa, nai_request())
    out = fa.on_packet(from_ha(rep), NOW + 1)
    if code == 97:  # without the NAI the reply only matches by home address: it cannot match
        assert out == [] and fa.counters["discard.unmatched_reply"] == 1
        relay(fa, request_bytes(home="10.1.1.99", before_mhae=[nai_ext()], ident=ID + 1), NOW + 2)
        out = fa.on_packet(from_ha(reply_bytes(home="10.1.1.99", ident=ID + 1)), NOW + 3)
    assert denial_code(out) == code and fa.visitors() == []


# =========================================================================== views, restore, shutdown, reload


def test_restore_reinstalls_live_visitors_and_drops_expired_ones():
    """RFC 5944 §3.7.1: the visitor list survives a restart; entries whose lifetime ran out are gone."""
    live = Visitor(HOME, None, COA, HA, "eth1", MN_LLADDR, ID, 600, NOW + 100, "ipip", True)
    dead = replace(live, home_address="10.1.1.11", expires=NOW - 1)
    fa = agent()
    out = fa.restore([live, dead], NOW)
    assert out == [
        AddTunnel(COA, HA, "ipip"),
        AddHostRoute(HOME, "eth1", MN_LLADDR),
        AddReverseTunnel(HOME, COA, HA, "ipip", "eth1", "direct"),
        ArmTimer(VISITOR_KEY, NOW + 100),
        DeleteRecord("visitor", "10.1.1.11"),
    ]
    assert [v.home_address for v in fa.visitors(NOW)] == [HOME]


def test_shutdown_removes_everything_installed_and_keeps_the_records():
    """RFC 5944 §3.7: no message on the way out; the data plane is cleaned, records stay for restore."""
    fa = started()
    register(fa, req=request_bytes(flags=reg.FLAG_T))
    relay(fa, request_bytes(home="10.1.1.11", ident=5), NOW + 1)
    out = fa.shutdown()
    assert of_type(out, SendUDP) == [] and of_type(out, DeleteRecord) == []
    assert [a for a in out if isinstance(a, (RemoveHostRoute, RemoveReverseTunnel, RemoveTunnel))] == [
        RemoveHostRoute(HOME, "eth1"),
        RemoveReverseTunnel(HOME),
        RemoveTunnel(COA, HA, "ipip"),
    ]
    cancelled = {a.key for a in of_type(out, CancelTimer)}
    assert {
        (ADVERTISE_TIMER, "eth1"),
        (ADVERTISE_TIMER, "eth2"),
        VISITOR_KEY,
        (PENDING_TIMER, "10.1.1.11", 5),
    } <= cancelled
    assert fa.visitors() == [] and fa.pending() == []


def test_on_config_keeps_visitors_and_applies_new_sas_and_filters():
    """RFC 5944 §3.7.2.1 (a new SA with the node makes the MFAE required), §3.4 65 (new filter)."""
    fa = started()
    register(fa)
    deny_ha = RuleList((FilterRule("deny", prefix="10.9.0.0/16"),))
    out = fa.on_config(config(filters=RegistrationFilters(home_agents=deny_ha)), SecurityAssociations([MN_FA]), NOW + 1)
    assert of_type(out, RemoveTunnel) == [] and len(fa.visitors()) == 1
    assert denial_code(fa.on_packet(from_mn(request_bytes(ident=ID + 1)), NOW + 2)) == 67
    relay(fa, request_bytes(ident=ID + 2, mfae=MN_FA), NOW + 4)
    data = request_bytes(ha="10.9.1.1", ident=ID + 3, mfae=MN_FA)
    assert denial_code(fa.on_packet(from_mn(data), NOW + 6)) == 65


def test_on_config_retimes_advertisements_and_follows_link_changes():
    """RFC 5944 §2.3: a removed link is no longer advertised, a new one is; a new interval re-arms."""
    fa = started()
    eth3 = ServedInterface("eth3", "100.64.0.1")
    out = fa.on_config(config(interfaces=(ETH1, eth3)), SecurityAssociations(), NOW)
    assert CancelTimer((ADVERTISE_TIMER, "eth2")) in out
    assert [a.key for a in of_type(out, ArmTimer)] == [(ADVERTISE_TIMER, "eth3")]
    assert fa.on_timer((ADVERTISE_TIMER, "eth2"), NOW) == []
    out = fa.on_config(config(interfaces=(ETH1, eth3), advertisement_interval=2.0), SecurityAssociations(), NOW)
    arms = of_type(out, ArmTimer)
    assert {a.key for a in arms} == {(ADVERTISE_TIMER, "eth1"), (ADVERTISE_TIMER, "eth3")}
    assert all(NOW + 1.5 <= a.at <= NOW + 2.5 for a in arms)


# =========================================================================== robustness (hypothesis)

ROBUST = settings(max_examples=300, deadline=None)


def assert_sane(fa: ForeignAgent, out: list) -> None:
    assert fa.counters["discard.internal_error"] == 0, out
    for a in out:
        if isinstance(a, SendUDP):
            msg = reg.decode(a.payload)
            assert isinstance(msg, reg.RegistrationRequest) or 64 <= msg.code <= 127 or msg.code == 194


@ROBUST
@given(st.binary(max_size=120))
def test_arbitrary_bytes_as_a_request_never_raise(data):
    """RFC 5944 §3.7.2.1: bad input is discarded or answered, never crashes the agent."""
    fa = started(MN_FA, FA_HA, challenge=True)
    out = fa.on_packet(from_mn(b"\x01" + data), NOW)
    out += fa.on_packet(from_mn(data), NOW + 2)
    assert_sane(fa, out)


@ROBUST
@given(st.binary(max_size=120), st.sampled_from([b"", reply_bytes()[:20]]))
def test_arbitrary_bytes_as_a_reply_never_raise(data, prefix):
    """RFC 5944 §3.7.3.1: malformed replies are discarded or reported to the node (71), never raise."""
    fa = started(MN_FA, FA_HA)
    relay(fa, request_bytes(mfae=MN_FA))
    out = fa.on_packet(from_ha(b"\x03" + data), NOW + 1)
    out += fa.on_packet(from_ha(prefix + data), NOW + 2)
    assert_sane(fa, out)


@ROBUST
@given(
    flags=st.integers(0, 255),
    lifetime=st.integers(0, 0xFFFF),
    coa=st.sampled_from([COA, "203.0.113.7", "198.18.0.5"]),
    ha=st.sampled_from([HA, "192.0.2.1", "0.0.0.0", "224.0.0.5"]),
    ttl=st.sampled_from([1, 64, 255]),
    tail=st.lists(st.sampled_from([encap_style(), challenge_ext(b"abcd"), UnknownExtension(150, b"")]), max_size=3),
    code=st.integers(0, 255),
    reply_lifetime=st.integers(0, 0xFFFF),
)
def test_arbitrary_valid_looking_exchanges_never_raise(flags, lifetime, coa, ha, ttl, tail, code, reply_lifetime):
    """RFC 5944 §3.7.2-§3.7.3: any flag/lifetime/address combination is relayed or denied with an
    FA code; any reply to it is relayed or rejected; the visitor list follows accepted replies only."""
    fa = started(MN_FA, FA_HA, encapsulations=frozenset({"ipip", "gre"}))
    req = request_bytes(flags=flags, lifetime=lifetime, coa=coa, ha=ha, after_mhae=tail, mfae=MN_FA)
    out = fa.on_packet(from_mn(req, ttl=ttl), NOW)
    assert_sane(fa, out)
    if any(isinstance(a, SendUDP) and a.dest == ha for a in out):
        rep = reply_bytes(code=code, lifetime=reply_lifetime, ha=ha, fhae=FA_HA)
        out = fa.on_packet(from_ha(rep, source=ha), NOW + 1)
        assert fa.counters["discard.internal_error"] == 0
        accepted = code in (0, 1) and min(reply_lifetime, lifetime) > 0
        assert len(fa.visitors()) == (1 if accepted else 0)


@ROBUST
@given(st.binary(max_size=64))
def test_arbitrary_icmp_never_raises(data):
    """RFC 5944 §2.3: malformed ICMP on a served link is counted and dropped."""
    fa = started()
    out = fa.on_packet(Packet(data, "192.0.2.9", "224.0.0.11", interface="eth1", icmp=True), NOW)
    assert fa.counters["discard.internal_error"] == 0
    assert all(isinstance(a, SendICMP) for a in out)
