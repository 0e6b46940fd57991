"""Mobile node state machine (mipd.protocol.mobile_node): RFC 5944 §2.4, §3.6, §4.2.1, §4.6;
RFC 3024 §4.1; RFC 3012 §3.1; RFC 2794 §2.

Packets are built with the wire codec and signed with mipd.security.sign; the assertions are on
the returned actions and on the decoded bytes of what the node sends. Time is passed in.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.protocol import codes
from mipd.protocol.actions import (
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
    SendICMP,
    SendUDP,
    SetArpReplies,
    SetDefaultRoute,
)
from mipd.protocol.config import ForeignAgentConfig, HomeAgentConfig, ServedInterface
from mipd.protocol.discovery import MAX_SOLICIT_INTERVAL, SOLICIT_JITTER, agent_timer, solicit_timer
from mipd.protocol.filters import HostSet
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.protocol.home_agent import HomeAgent
from mipd.protocol.mobile_node import (
    EXPIRE_TIMER,
    HOLDDOWN,
    RENEW_TIMER,
    SEND_TIMER,
    MobileNode,
    garp_timer,
)
from mipd.security import SecurityAssociation, SecurityAssociations, verify
from mipd.security.replay import ntp_seconds
from mipd.simnet import SimNet
from mipd.wire import (
    FLAG_D,
    FLAG_G,
    FLAG_M,
    FLAG_T,
    MFAE,
    MHAE,
    ChallengeExtension,
    GenAuthExtension,
    NAIExtension,
    icmp,
)
from mn_helpers import (
    FA1,
    FA1_COA,
    FA1_MAC,
    FA2,
    FA2_COA,
    FA2_MAC,
    HA,
    HOME,
    HOME_GW,
    KEY,
    NOW,
    SA_FA1,
    SA_HOME,
    Driver,
    advert,
    auth_ext,
    config,
    decisions,
    home_advert,
    index_of,
    mhae_ok,
    node,
    of_type,
    registered_with_fa1,
    reply_packet,
    requests,
    send_timer_at,
    the_request,
    timer_at,
)

# ============================================================================ registration request


def test_fa_advertisement_yields_signed_request_to_the_fa():
    """RFC 5944 §3.6.1.1-§3.6.1.2, App. C.1: request to the FA's address and MAC from its
    advertisement, source = home address, port 434, CoA = advertised care-of address, D = 0."""
    mn = node()
    actions = mn.on_packet(advert(FA1, coas=[FA1_COA, "192.0.2.9"]), NOW)
    send, req = the_request(actions)
    assert (send.dest, send.dest_port, send.source, send.interface, send.lladdr) == (FA1, 434, HOME, "eth0", FA1_MAC)
    assert (req.home_address, req.home_agent, req.care_of_address) == (HOME, HA, FA1_COA)
    assert req.flags == 0 and req.lifetime == 1800
    assert mhae_ok(req)
    assert abs((req.identification >> 32) - ntp_seconds(NOW)) <= 1  # §5.7.1 NTP timestamp
    assert send_timer_at(actions) == NOW + 1  # §3.6.3: first retransmission after 1 s
    assert mn.status(NOW).pending and not mn.status(NOW).registered


def test_requested_lifetime_never_exceeds_the_advertised_registration_lifetime():
    """RFC 5944 §3.6.1.2: the Lifetime SHOULD NOT exceed the advertisement's Registration Lifetime."""
    _, short = the_request(node().on_packet(advert(reg_lifetime=300), NOW))
    _, long = the_request(node(lifetime=600).on_packet(advert(reg_lifetime=0xFFFF), NOW))
    assert (short.lifetime, long.lifetime) == (300, 600)


def test_arp_for_the_home_address_is_disabled_before_the_first_request_away():
    """RFC 5944 §4.6: before transmitting the request away from home, stop answering ARP for the
    home address (on every interface)."""
    mn = node(interfaces=("eth0", "wlan0"))
    actions = mn.on_packet(advert(), NOW)
    arp = of_type(actions, SetArpReplies)
    assert {(a.address, a.interface, a.enable) for a in arp} == {(HOME, "eth0", False), (HOME, "wlan0", False)}
    assert index_of(actions, SetArpReplies) < index_of(actions, SendUDP)


def test_reverse_tunnel_requested_only_when_the_fa_advertises_it():
    """RFC 3024 §4.1.1 / RFC 5944 §2.1.1 T bit: T only if the FA offers reverse tunnelling; the
    request then goes out with TTL 255."""
    send, req = the_request(node(reverse_tunnel=True).on_packet(advert(flags=icmp.ADV_F | icmp.ADV_T), NOW))
    assert req.flags & FLAG_T and send.ttl == 255
    send, req = the_request(node(reverse_tunnel=True).on_packet(advert(flags=icmp.ADV_F), NOW))
    assert not req.flags & FLAG_T and send.ttl == 1  # App. C.1: TTL 1 to the on-link FA


@pytest.mark.parametrize(
    ("encap", "adv_flag", "req_flag"), [("gre", icmp.ADV_G, FLAG_G), ("minimal", icmp.ADV_M, FLAG_M)]
)
def test_m_or_g_only_when_the_fa_advertises_it(encap, adv_flag, req_flag):
    """RFC 5944 §3.6.1.2: M/G only if the FA set the corresponding bit, else IP-in-IP."""
    _, offered = the_request(node(encapsulation=encap).on_packet(advert(flags=icmp.ADV_F | adv_flag), NOW))
    _, plain = the_request(node(encapsulation=encap).on_packet(advert(flags=icmp.ADV_F), NOW))
    assert offered.flags & (FLAG_G | FLAG_M) == req_flag
    assert plain.flags & (FLAG_G | FLAG_M) == 0


def test_nai_extension_precedes_the_mhae():
    """RFC 2794 §2: the MN-NAI extension appears before the MHAE (and MFAE)."""
    _, req = the_request(node(nai="alice@example.net").on_packet(advert(), NOW))
    types = [e.type for e in req.extensions]
    assert types == [131, MHAE]
    assert isinstance(req.extensions[0], NAIExtension) and req.extensions[0].nai == "alice@example.net"
    assert mhae_ok(req)


def test_challenge_follows_the_mhae_and_the_mfae_comes_last():
    """RFC 3012 §3.1 (challenge copied from the advertisement, after the MHAE) and RFC 5944
    §3.6.1.3 (MFAE last, required when the MN shares an SA with the FA)."""
    mn = node(SA_HOME, SA_FA1)
    _, req = the_request(mn.on_packet(advert(challenge=b"0123456789abcdef"), NOW))
    assert [e.type for e in req.extensions] == [MHAE, 132, MFAE]
    assert isinstance(req.extensions[1], ChallengeExtension) and req.extensions[1].challenge == b"0123456789abcdef"
    assert mhae_ok(req)
    mfae = auth_ext(req, MFAE)
    assert mfae.spi == SA_FA1.spi and verify(SA_FA1, req.raw, mfae) is not None


def test_challenge_without_an_fa_sa_is_answered_with_mn_aaa():
    """RFC 3012 §3.1: without an SA with the FA the node MUST include the MN-AAA authentication
    extension (after the challenge, which follows the MHAE); SPI and key are its home SA's."""
    _, req = the_request(node().on_packet(advert(challenge=b"0123456789abcdef"), NOW))
    assert [e.type for e in req.extensions] == [MHAE, 132, 36]
    aaa = req.extensions[2]
    assert isinstance(aaa, GenAuthExtension) and aaa.subtype == 1 and aaa.spi == SA_HOME.spi
    assert verify(SA_HOME, req.raw, aaa) == "hmac-md5" and mhae_ok(req)


def test_no_challenge_no_mn_aaa():
    """RFC 3012 §3.1: the MN-AAA extension answers a challenge; without one only the MHAE."""
    _, req = the_request(node().on_packet(advert(), NOW))
    assert [e.type for e in req.extensions] == [MHAE]


def test_no_security_association_means_no_request():
    """RFC 5944 §3.6: a mobile node MUST have an SA with its home agent; without one it cannot
    produce the MHAE, so it sends nothing and says why."""
    mn = node(SecurityAssociation("10.9.9.9", 0x100, KEY))
    actions = mn.on_packet(advert(), NOW)
    assert requests(actions) == []
    assert mn.counters["error.no_security_association"] == 1
    assert any(isinstance(a, Log) and a.level == "error" for a in actions)


def test_the_newest_sa_signs_the_request():
    """RFC 5944 §3.5.2 / key rotation: the most recently added SA for our home address is used."""
    new = SecurityAssociation(HOME, 0x101, b"rotated-key-0001")
    _, req = the_request(node(SA_HOME, new).on_packet(advert(), NOW))
    assert mhae_ok(req, new)


def test_identifications_strictly_increase():
    """RFC 5944 §5.7.1: each timestamp Identification is greater than any previous one."""
    mn = node()
    ids = []
    actions = mn.on_packet(advert(), NOW)
    for _i in range(1, 6):
        ids.append(the_request(actions)[1].identification)
        actions = mn.on_timer(SEND_TIMER, send_timer_at(actions))
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


# ============================================================================ replies (§3.6.2)


def test_accepted_reply_installs_the_fa_route_and_arms_reregistration():
    """RFC 5944 §3.6.2.2 and §4.2.1: on acceptance use the FA as first-hop router (its MAC from the
    advertisement, no ARP §4.6) and re-register `reregister_margin` s before the lifetime ends,
    counting the lifetime from when the request was sent."""
    mn = node(reregister_margin=10)
    _, req = the_request(mn.on_packet(advert(), NOW))
    actions = mn.on_packet(reply_packet(req, lifetime=1000), NOW + 0.5)
    assert AddHostRoute(FA1, "eth0", FA1_MAC) in actions
    assert SetDefaultRoute(FA1, "eth0", source=HOME) in actions
    assert index_of(actions, AddHostRoute) < index_of(actions, SetDefaultRoute)
    assert timer_at(actions, RENEW_TIMER) == NOW + 990
    assert timer_at(actions, EXPIRE_TIMER) == NOW + 1000
    assert CancelTimer(SEND_TIMER) in actions
    assert len(decisions(actions)) == 1 and decisions(actions)[0].fields["code"] == 0
    st_ = mn.status(NOW + 100)
    assert st_.registered and not st_.pending and st_.location == "away" and not st_.at_home
    assert (st_.care_of_address, st_.agent_address, st_.interface) == (FA1_COA, FA1, "eth0")
    assert st_.lifetime_left == pytest.approx(900) and st_.last_reply_code == 0


def test_granted_lifetime_is_the_smaller_of_reply_and_request():
    """RFC 5944 §3.4/§3.6.2.2: the node uses the smaller of the requested and replied lifetimes."""
    mn = node(lifetime=300)
    _, req = the_request(mn.on_packet(advert(), NOW))
    actions = mn.on_packet(reply_packet(req, lifetime=5000), NOW + 1)
    assert timer_at(actions, EXPIRE_TIMER) == NOW + 300


def test_short_lifetime_reregisters_at_half_time():
    """RFC 5944 §3.6.2.2: re-register before expiry; with a lifetime shorter than twice the margin
    the node renews at half the lifetime."""
    mn = node(reregister_margin=10)
    _, req = the_request(mn.on_packet(advert(), NOW))
    actions = mn.on_packet(reply_packet(req, lifetime=12), NOW + 0.1)
    assert timer_at(actions, RENEW_TIMER) == NOW + 6


def test_renewal_sends_a_new_request_with_a_new_identification():
    """RFC 5944 §3.6 / §3.6.2.2: re-register with the current agent before the lifetime runs out."""
    mn = node()
    first = registered_with_fa1(mn)
    renew_at = NOW + 1800 - 10
    assert mn.on_packet(advert(seq=500), renew_at - 1) == [ArmTimer(agent_timer(("eth0", FA1)), renew_at + 14)]
    send, again = the_request(mn.on_timer(RENEW_TIMER, renew_at))
    assert send.dest == FA1 and again.care_of_address == FA1_COA
    assert again.identification > first.identification
    assert mn.status(renew_at).pending


def test_expiry_without_renewal_marks_unregistered():
    """RFC 5944 §3.6.2.2: when the granted lifetime runs out the registration is gone."""
    mn = node()
    registered_with_fa1(mn)
    mn.on_timer(RENEW_TIMER, NOW + 1790)
    actions = mn.on_timer(EXPIRE_TIMER, NOW + 1800)
    assert not mn.status(NOW + 1800).registered
    assert any(isinstance(a, Log) and a.event == "registration-expired" for a in actions)


def test_reply_whose_low_identification_bits_differ_is_silently_discarded():
    """RFC 5944 §3.6.2.1: the low-order 32 bits must match the most recent request."""
    mn = node()
    _, req = the_request(mn.on_packet(advert(), NOW))
    bad = reply_packet(req, ident=req.identification ^ 1)
    assert mn.on_packet(bad, NOW + 0.1) == []
    assert mn.counters["discard.identification_mismatch"] == 1
    assert mn.status(NOW + 0.1).pending and not mn.status(NOW + 0.1).registered


def test_reply_to_an_earlier_transmission_is_discarded():
    """RFC 5944 §3.6.2.1 / §3.6.3: with timestamps every retransmission is a new request; a
    reply must match the most recent one."""
    mn = node()
    _, first = the_request(mn.on_packet(advert(), NOW))
    mn.on_timer(SEND_TIMER, NOW + 1)
    assert mn.on_packet(reply_packet(first), NOW + 1.1) == []
    assert mn.counters["discard.identification_mismatch"] == 1


@pytest.mark.parametrize("problem", ["wrong key", "missing", "duplicated", "unknown spi"])
def test_home_agent_reply_without_one_valid_mhae_is_discarded_and_logged(problem):
    """RFC 5944 §3.6.2.1 b: a reply with an HA code needs exactly one valid MHAE; otherwise it is
    silently discarded and SHOULD be logged as a security exception."""
    mn = node()
    _, req = the_request(mn.on_packet(advert(), NOW))
    if problem == "wrong key":
        pkt = reply_packet(req, sa=SecurityAssociation(HOME, 0x100, b"not-the-right-key"))
    elif problem == "missing":
        pkt = reply_packet(req, sa=None)
    elif problem == "unknown spi":
        pkt = reply_packet(req, sa=SecurityAssociation(HOME, 0x999, KEY))
    else:
        from mipd.security import sign

        signed = reply_packet(req)
        pkt = Packet(sign(SA_HOME, signed.data, MHAE), FA1, HOME, interface="eth0")
    actions = mn.on_packet(pkt, NOW + 0.1)
    assert [a.event for a in actions] == ["security-exception"] and actions[0].level == "warning"
    assert not mn.status(NOW + 0.1).registered and mn.status(NOW + 0.1).pending
    assert KEY.hex() not in repr(actions) and "not-the-right-key" not in repr(actions)  # no key material


def test_foreign_agent_denial_needs_no_mhae():
    """RFC 5944 §3.6.2.1: only codes from the home agent must carry an MHAE; an FA denial
    (here 66) is acted upon without one."""
    mn = node()
    _, req = the_request(mn.on_packet(advert(), NOW))
    actions = mn.on_packet(reply_packet(req, codes.FA_RESOURCES, sa=None), NOW + 0.1)
    assert decisions(actions)[0].fields["code"] == 66
    assert mn.status(NOW + 0.1).last_reply_code == 66


def test_mfae_required_when_the_node_shares_an_sa_with_the_fa():
    """RFC 5944 §3.6.2.1 a: with an MN-FA SA exactly one valid MFAE must be present."""
    mn = node(SA_HOME, SA_FA1)
    _, req = the_request(mn.on_packet(advert(), NOW))
    assert mn.on_packet(reply_packet(req), NOW + 0.1)[0].fields["reason"] == "mfae missing"
    wrong = SecurityAssociation(FA1, 0x200, b"other-fa-secret")
    assert mn.on_packet(reply_packet(req, fa_sa=wrong), NOW + 0.1)[0].fields["reason"] == "mfae invalid"
    actions = mn.on_packet(reply_packet(req, fa_sa=SA_FA1), NOW + 0.2)
    assert decisions(actions)[0].fields["code"] == 0 and mn.status(NOW + 0.2).registered


def test_reply_without_a_pending_request_is_discarded():
    """RFC 5944 §3.6.2.1: a reply matches the most recent request; with none pending, discard."""
    mn = node()
    req = registered_with_fa1(mn)
    assert mn.on_packet(reply_packet(req), NOW + 1) == []
    assert mn.counters["discard.no_pending_request"] == 1


def test_requests_sent_to_the_node_are_discarded():
    """RFC 5944 §3.6.2: a mobile node only processes registration replies."""
    mn = node()
    _, req = the_request(mn.on_packet(advert(), NOW))
    assert mn.on_packet(Packet(req.raw, FA1, HOME, interface="eth0"), NOW) == []
    assert mn.counters["discard.not_a_reply"] == 1


# ============================================================================ retransmission (§3.6.3)


def test_retransmission_backoff_doubles_from_one_second_up_to_the_cap():
    """RFC 5944 §3.6.3: first timeout 1 s, each at least twice the previous, up to the maximum;
    with timestamps each retransmission carries a new Identification."""
    mn = node(max_retransmit_interval=16)
    actions = mn.on_packet(advert(reg_lifetime=1800, lifetime=10_000), NOW)
    t, gaps, ids = NOW, [], []
    for _ in range(7):
        ids.append(the_request(actions)[1].identification)
        nxt = send_timer_at(actions)
        gaps.append(nxt - t)
        t = nxt
        actions = mn.on_timer(SEND_TIMER, t)
    assert gaps == [1, 2, 4, 8, 16, 16, 16]
    assert len(set(ids)) == 7
    assert mn.counters["tx.retransmission"] == 7 and mn.counters["tx.request"] == 1


def test_nonce_retransmission_is_the_same_request_unchanged():
    """RFC 5944 §3.6.3: with nonces the unanswered request is retransmitted unchanged."""
    sa = SecurityAssociation(HOME, 0x100, KEY, replay="nonce")
    mn = node(sa)
    first, _ = the_request(mn.on_packet(advert(), NOW))
    again, _ = the_request(mn.on_timer(SEND_TIMER, NOW + 1))
    assert again.payload == first.payload


def test_retransmission_interval_never_exceeds_the_requested_lifetime():
    """RFC 5944 §3.6.3: the maximum time until a new request SHOULD be no greater than the
    requested Lifetime."""
    mn = node(lifetime=3, max_retransmit_interval=32)
    actions = mn.on_packet(advert(lifetime=1000), NOW)
    t, gaps = NOW, []
    for _ in range(4):
        nxt = send_timer_at(actions)
        gaps.append(nxt - t)
        t = nxt
        actions = mn.on_timer(SEND_TIMER, t)
    assert gaps == [1, 2, 3, 3]


def test_accepted_reply_stops_retransmission():
    """RFC 5944 §3.6.3: retransmit only while no reply has been received."""
    mn = node()
    registered_with_fa1(mn)
    assert mn.on_timer(SEND_TIMER, NOW + 1) == []


def test_requests_are_never_sent_less_than_one_second_apart():
    """RFC 5944 §3.6 and §3.6.3: a mobile node MUST NOT register more often than once per second;
    a re-registration triggered sooner (here an FA reboot) is deferred."""
    mn = node()
    mn.on_packet(advert(seq=100), NOW)
    actions = mn.on_packet(advert(seq=0), NOW + 0.3)  # rebooted 0.3 s after our request
    assert requests(actions) == [] and send_timer_at(actions) == NOW + 1
    assert len(requests(mn.on_timer(SEND_TIMER, NOW + 1))) == 1


# ============================================================================ denials (§3.6.2.3)


def test_69_retries_with_the_lifetime_the_fa_allows():
    """RFC 5944 §3.6.2.3 code 69: the reply's Lifetime is the FA's maximum; retry with at most
    that, no sooner than one second after the previous request (§3.6.3)."""
    d = Driver(node())
    d.feed(advert(), NOW)
    actions = d.reply(codes.FA_LIFETIME_TOO_LONG, NOW + 0.2, lifetime=600, sa=None)
    assert decisions(actions)[0].fields["code"] == 69
    at, out = d.resend(actions, NOW + 0.2)
    assert at == NOW + 1 and d.last.lifetime == 600


def test_130_asks_the_home_agent_for_less_after_backing_off():
    """RFC 5944 §3.6.2.3 (130 insufficient resources): back off, then ask for a shorter lifetime."""
    d = Driver(node())
    d.feed(advert(), NOW)
    actions = d.reply(codes.HA_RESOURCES, NOW + 0.2)
    at, _ = d.resend(actions, NOW + 0.2)
    assert at >= NOW + 1 and d.last.lifetime == 900


def test_133_with_timestamps_resynchronises_to_the_home_agent_clock():
    """RFC 5944 §3.6.2.3 / §5.7.1: after checking the low 32 bits, the high 32 bits of a 133
    reply give the HA's time; the next request is built on it."""
    d = Driver(node())
    d.feed(advert(), NOW)
    req = d.last
    ha_secs = ntp_seconds(NOW) + 1000  # the HA's clock is 1000 s ahead
    actions = d.reply(codes.HA_ID_MISMATCH, NOW + 0.2, ident=(ha_secs << 32) | (req.identification & 0xFFFFFFFF))
    assert d.mn.counters["resync"] == 1
    at, _ = d.resend(actions, NOW + 0.2)
    assert abs((d.last.identification >> 32) - (ntp_seconds(at) + 1000)) <= 1


def test_133_with_nonces_uses_the_new_nonce():
    """RFC 5944 §5.7.2: the HA's nonce (high 32 bits of an authenticated reply) becomes the high
    32 bits of the next request; the low 32 bits are new."""
    sa = SecurityAssociation(HOME, 0x100, KEY, replay="nonce")
    d = Driver(node(sa))
    d.feed(advert(), NOW)
    req = d.last
    actions = d.reply(
        codes.HA_ID_MISMATCH, NOW + 0.2, ident=(0xCAFEF00D << 32) | (req.identification & 0xFFFFFFFF), sa=sa
    )
    _, _ = d.resend(actions, NOW + 0.2)
    nxt = d.last
    assert nxt.identification >> 32 == 0xCAFEF00D
    assert nxt.identification & 0xFFFFFFFF != req.identification & 0xFFFFFFFF


def test_nonce_from_an_accepted_reply_is_used_for_the_next_request():
    """RFC 5944 §5.7.2: the MN saves the high 32 bits of every authenticated HA reply."""
    sa = SecurityAssociation(HOME, 0x100, KEY, replay="nonce")
    d = Driver(node(sa))
    _, req = the_request(d.mn.on_packet(advert(lifetime=10_000), NOW))
    d.mn.on_packet(reply_packet(req, ident=(0x12345678 << 32) | (req.identification & 0xFFFFFFFF), sa=sa), NOW + 0.1)
    _, again = the_request(d.mn.on_timer(RENEW_TIMER, NOW + 1790))
    assert again.identification >> 32 == 0x12345678


def test_repeated_133_gives_up_for_a_while():
    """RFC 5944 §3.6.2.3: resynchronisation that never converges must not loop once a second."""
    d = Driver(node())
    actions = d.feed(advert(lifetime=10_000), NOW)
    t = NOW
    for _ in range(3):
        actions = d.reply(codes.HA_ID_MISMATCH, t + 0.1)
        t, actions = d.resend(actions, t + 0.1)
    actions = d.reply(codes.HA_ID_MISMATCH, t + 0.1)
    assert send_timer_at(actions) == t + 0.1 + HOLDDOWN


@pytest.mark.parametrize(
    ("code", "fa"),
    [
        (codes.FA_REVERSE_TUNNEL_UNAVAILABLE, True),
        (codes.HA_REVERSE_TUNNEL_UNAVAILABLE, False),
        (codes.FA_POORLY_FORMED_REQUEST, True),
        (codes.HA_POORLY_FORMED, False),
    ],
)
def test_reverse_tunnel_refused_retries_without_t(code, fa):
    """RFC 3024 §4.1.2 b and §3.4: after 74/137 (or 70/134 to a request with T) retry without T."""
    d = Driver(node(reverse_tunnel=True))
    d.feed(advert(flags=icmp.ADV_F | icmp.ADV_T), NOW)
    assert d.last.flags & FLAG_T
    actions = d.reply(code, NOW + 0.2, sa=None if fa else SA_HOME)
    d.resend(actions, NOW + 0.2)
    assert not d.last.flags & FLAG_T


@pytest.mark.parametrize("code", [codes.FA_REVERSE_TUNNEL_MANDATORY, codes.HA_REVERSE_TUNNEL_MANDATORY])
def test_reverse_tunnel_mandatory_retries_with_t(code):
    """RFC 3024 §3.4: 75/138 mean T is required; the node asks for it."""
    d = Driver(node())
    d.feed(advert(), NOW)
    assert not d.last.flags & FLAG_T
    actions = d.reply(code, NOW + 0.2, sa=None if code < 128 else SA_HOME)
    send_at, out = d.resend(actions, NOW + 0.2)
    assert d.last.flags & FLAG_T and of_type(out, SendUDP)[0].ttl == 255


@pytest.mark.parametrize("code", [codes.FA_ENCAP_UNAVAILABLE, codes.HA_ENCAP_UNAVAILABLE])
def test_encapsulation_refused_falls_back_to_ip_in_ip(code):
    """RFC 5944 §3.6.2.3 / RFC 3024 §3.4: after 72/139 retry without M/G (IP-in-IP)."""
    d = Driver(node(encapsulation="gre"))
    d.feed(advert(flags=icmp.ADV_F | icmp.ADV_G), NOW)
    assert d.last.flags & FLAG_G
    actions = d.reply(code, NOW + 0.2, sa=None if code < 128 else SA_HOME)
    d.resend(actions, NOW + 0.2)
    assert d.last.flags & (FLAG_G | FLAG_M) == 0


def test_136_retries_with_the_home_agent_address_from_the_reply():
    """RFC 5944 §3.6.2.3 code 136: the reply's Home Agent field is the unicast address to use."""
    d = Driver(node())
    d.feed(advert(), NOW)
    actions = d.reply(codes.HA_UNKNOWN_HA, NOW + 0.2, home_agent="10.1.1.2")
    d.resend(actions, NOW + 0.2)
    assert d.last.home_agent == "10.1.1.2"
    assert d.mn.status(NOW + 2).home_agent == "10.1.1.2"


def test_challenge_error_retries_with_the_challenge_from_the_reply():
    """RFC 3012 §3.1: after UNKNOWN/STALE_CHALLENGE use a new challenge, e.g. the one the reply
    carries."""
    d = Driver(node())
    d.feed(advert(challenge=b"old-challenge..."), NOW)
    actions = d.reply(106, NOW + 0.2, sa=None, extensions=[ChallengeExtension(b"fresh-challenge!")])
    d.resend(actions, NOW + 0.2)
    ch = [e for e in d.last.extensions if isinstance(e, ChallengeExtension)]
    assert ch[0].challenge == b"fresh-challenge!"


def test_stale_challenge_waits_for_a_newly_advertised_one():
    """RFC 3012 §3.1: after UNKNOWN/STALE_CHALLENGE the node MUST use a new challenge: it waits for
    an advertisement with a different one, then registers with it."""
    d = Driver(node())
    d.feed(advert(challenge=b"challenge-one..."), NOW)
    actions = d.reply(106, NOW + 0.2, sa=None)
    assert requests(actions) == [] and decisions(actions)[0].fields["reason"] == "waiting for a fresh challenge"
    assert requests(d.feed(advert(seq=2, challenge=b"challenge-one..."), NOW + 3)) == []
    send, req = the_request(d.feed(advert(seq=3, challenge=b"challenge-two..."), NOW + 5))
    assert [e.challenge for e in req.extensions if isinstance(e, ChallengeExtension)] == [b"challenge-two..."]


def test_next_challenge_from_a_reply_is_the_new_one_not_the_echo():
    """RFC 3012 §3.3/§3.4: the HA echoes the challenge it saw, the FA MAY append a new one; the
    node's next request uses the new one (§3.1)."""
    d = Driver(node())
    d.feed(advert(challenge=b"challenge-one...", lifetime=10_000), NOW)
    echo, fresh = ChallengeExtension(b"challenge-one..."), ChallengeExtension(b"challenge-two...")
    d.reply(0, NOW + 0.2, extensions=[], sa=SA_HOME)  # accepted; nothing new offered
    _, again = the_request(d.fire(RENEW_TIMER, NOW + 1790))
    assert again.extensions[1].challenge == b"challenge-one..."
    raw = reply_packet(again, 0, sa=SA_HOME).data + echo.encode() + fresh.encode()
    d.mn.on_packet(Packet(raw, FA1, HOME, interface="eth0"), NOW + 1790.2)
    _, third = the_request(d.fire(RENEW_TIMER, NOW + 3580))
    assert third.extensions[1].challenge == b"challenge-two..."


def test_request_answering_a_challenge_is_retransmitted_unchanged():
    """RFC 3012 §3.2: the FA relays a challenge again only for a retransmission with the same
    Identification and challenge, so such a request is resent unchanged even with timestamps."""
    mn = node()
    first, _ = the_request(mn.on_packet(advert(challenge=b"challenge-one..."), NOW))
    again, _ = the_request(mn.on_timer(SEND_TIMER, NOW + 1))
    assert again.payload == first.payload
    mn.on_packet(advert(seq=2, challenge=b"challenge-two..."), NOW + 2)
    _, fresh = the_request(mn.on_timer(SEND_TIMER, NOW + 3))  # a new challenge: a new request
    assert fresh.extensions[1].challenge == b"challenge-two..." and fresh.raw != first.payload


def test_transient_denials_back_off_exponentially():
    """RFC 5944 §3.6.2.3 (78 registration timeout, 80-88 home agent unreachable): try later,
    waiting longer each time."""
    d = Driver(node())
    d.feed(advert(lifetime=10_000), NOW)
    t, waits = NOW, []
    for code in (78, 80, 88, 66):
        actions = d.reply(code, t + 0.1, sa=None)
        at, _ = d.resend(actions, t + 0.1)
        waits.append(round(at - (t + 0.1), 3))
        t = at
    assert waits == [1, 2, 4, 8]


def test_fa_denial_tries_the_next_care_of_address_then_another_agent():
    """RFC 5944 §2.4: after a rejection by the FA the node MAY retry with each subsequent
    advertised care-of address in turn; then it leaves that agent for another one heard."""
    d = Driver(node())
    d.feed(advert(FA1, coas=[FA1_COA, "192.0.2.9"]), NOW)
    assert requests(d.mn.on_packet(advert(FA2, coas=[FA2_COA]), NOW + 0.1)) == []  # we stay with FA1 (§3.6)
    actions = d.reply(codes.FA_INVALID_COA, NOW + 0.2, sa=None)
    _, out = d.resend(actions, NOW + 0.2)
    assert d.last.care_of_address == "192.0.2.9" and of_type(out, SendUDP)[0].dest == FA1
    actions = d.reply(codes.FA_PROHIBITED, NOW + 1.2, sa=None)
    _, out = d.resend(actions, NOW + 1.2)
    assert of_type(out, SendUDP)[0].dest == FA2 and d.last.care_of_address == FA2_COA


def test_hard_home_agent_denial_holds_registration_down():
    """RFC 5944 §3.6.2.3 (129 administratively prohibited): no repair possible; stop asking for a
    while instead of once a second, and log it."""
    d = Driver(node())
    d.feed(advert(lifetime=10_000), NOW)
    actions = d.reply(codes.HA_PROHIBITED, NOW + 0.2)
    assert send_timer_at(actions) == NOW + 0.2 + HOLDDOWN
    assert requests(d.mn.on_timer(SEND_TIMER, NOW + 5)) == []  # a stray timer cannot bypass it
    assert decisions(actions)[0].fields["code"] == 129


@pytest.mark.parametrize("code", [codes.HA_MN_AUTH, codes.FA_MN_AUTH])
def test_authentication_failures_are_logged_as_security_exceptions(code):
    """RFC 5944 §3.6.2.1: the node SHOULD log authentication failure codes as security exceptions."""
    d = Driver(node())
    d.feed(advert(), NOW)
    actions = d.reply(code, NOW + 0.2, sa=None if code < 128 else SA_HOME)
    assert decisions(actions)[0].level == "warning"


_ALL_DENIALS = sorted(set(codes.NAMES) - {0, 1} | {96, 97, 98, 99, 104, 105, 106, 2, 200, 255})


@pytest.mark.parametrize("code", _ALL_DENIALS)
def test_every_denial_code_gets_one_decision_and_a_way_forward(code):
    """RFC 5944 §3.6.2.3: the node logs each denial and either retries (repaired, later, or with
    another care-of address/agent) — it never just stops, and never retries sooner than 1 s."""
    d = Driver(node())
    d.feed(advert(FA1, coas=[FA1_COA], lifetime=10_000, challenge=b"challenge-one..."), NOW)
    from_ha = not (64 <= code <= 127 or code == 194)
    actions = d.reply(code, NOW + 0.2, sa=SA_HOME if from_ha else None, lifetime=600 if code == 69 else None)
    assert len(decisions(actions)) == 1 and decisions(actions)[0].fields["code"] == code
    assert d.mn.status(NOW + 0.2).last_reply_code == code
    nxt = send_timer_at(actions)
    if nxt is None and d.mn.status(NOW + 0.2).location == "away":  # RFC 3012: waits for a new challenge
        assert code in (104, 105, 106)
        assert (
            requests(d.mn.on_packet(advert(FA1, seq=2, lifetime=10_000, challenge=b"challenge-one..."), NOW + 1)) == []
        )
        assert (
            len(requests(d.mn.on_packet(advert(FA1, seq=3, lifetime=10_000, challenge=b"challenge-two..."), NOW + 2)))
            == 1
        )
    elif nxt is None:  # the FA was left (held down): the next advertisement after the hold brings it back
        assert d.mn.status(NOW + 0.2).location == "detached"
        nxt = NOW + 0.2 + HOLDDOWN
        assert requests(d.mn.on_packet(advert(FA1, seq=9, lifetime=10_000), nxt - 1)) == []
        assert len(requests(d.mn.on_packet(advert(FA1, seq=10, lifetime=10_000), nxt))) == 1
    else:
        assert nxt >= NOW + 1
        assert len(requests(d.mn.on_timer(SEND_TIMER, nxt))) == 1


# ============================================================================ move detection (§2.4.2)


def test_new_agent_does_not_cause_a_registration_while_the_current_one_is_heard():
    """RFC 5944 §3.6: advertisements from new agents SHOULD NOT cause a new registration while the
    current registration is valid and the current FA is still advertising."""
    mn = node()
    registered_with_fa1(mn)
    assert requests(mn.on_packet(advert(FA2, coas=[FA2_COA]), NOW + 1)) == []
    assert requests(mn.on_packet(advert(FA1, seq=2), NOW + 2)) == []
    assert mn.status(NOW + 2).agent_address == FA1


def test_lifetime_expiry_moves_to_another_agent_still_heard():
    """RFC 5944 §2.4.2.1: no advertisement from the current agent within its Lifetime -> lost;
    register with another agent whose advertisement has not expired."""
    mn = node()
    registered_with_fa1(mn)  # FA1's advertisement lifetime: 15 s
    mn.on_packet(advert(FA2, coas=[FA2_COA], lifetime=60), NOW + 5)
    assert mn.on_timer(agent_timer(("eth0", FA1)), NOW + 10) == []  # not expired yet: nothing
    actions = mn.on_timer(agent_timer(("eth0", FA1)), NOW + 15)
    send, req = the_request(actions)
    assert (send.dest, send.lladdr, req.care_of_address) == (FA2, FA2_MAC, FA2_COA)
    assert mn.counters["agent.expired"] == 1 and mn.counters["move.agent_lost"] == 1


def test_lifetime_expiry_without_another_agent_starts_soliciting():
    """RFC 5944 §2.4.2.1: with no other valid agent the node SHOULD discover a new one (§2.4)."""
    mn = node()
    registered_with_fa1(mn)
    actions = mn.on_timer(agent_timer(("eth0", FA1)), NOW + 15)
    sol = of_type(actions, SendICMP)
    assert len(sol) == 1 and (sol[0].dest, sol[0].interface, sol[0].ttl) == ("224.0.0.11", "eth0", 1)
    assert isinstance(icmp.decode(sol[0].payload), icmp.AgentSolicitation)
    assert requests(actions) == [] and mn.status(NOW + 15).location == "detached"


def test_prefix_change_means_the_node_moved():
    """RFC 5944 §2.4.2.2: when both advertisements carry Prefix-Lengths and the new agent's
    prefix differs, the node has moved and registers with the new agent."""
    mn = node()
    registered_with_fa1(mn, prefix=24)
    actions = mn.on_packet(advert(FA2, coas=[FA2_COA], prefix=24), NOW + 3)
    assert the_request(actions)[0].dest == FA2
    assert mn.counters["move.prefix"] == 1


def test_same_prefix_is_not_a_move():
    """RFC 5944 §2.4.2.2: an agent on the same prefix (192.0.2.0/24) is not a move."""
    mn = node()
    registered_with_fa1(mn, prefix=24)
    assert requests(mn.on_packet(advert("192.0.2.77", prefix=24), NOW + 3)) == []


def test_prefix_method_needs_prefix_lengths_from_both_agents():
    """RFC 5944 §2.4.2.2: with a FA care-of address, not used unless both advertisements carry
    the Prefix-Lengths extension."""
    mn = node()
    registered_with_fa1(mn)  # FA1 without prefix lengths
    assert requests(mn.on_packet(advert(FA2, coas=[FA2_COA], prefix=24), NOW + 3)) == []


def test_agent_reboot_triggers_reregistration_but_rollover_does_not():
    """RFC 5944 §2.4.4: a lower sequence number below 256 means the FA rebooted -> register
    again; a drop to 256 or above is the 0xffff rollover (§2.3.2)."""
    mn = node()
    registered_with_fa1(mn, seq=0xFFFF)
    assert requests(mn.on_packet(advert(FA1, seq=256), NOW + 3)) == []
    send, req = the_request(mn.on_packet(advert(FA1, seq=2), NOW + 4))
    assert send.dest == FA1 and mn.counters["agent.rebooted"] == 1


def test_advertisement_with_zero_lifetime_withdraws_the_agent():
    """RFC 1256 §3 (via RFC 5944 §2.4): an advertisement with Lifetime 0 means the agent is
    going away; the node looks elsewhere."""
    mn = node()
    registered_with_fa1(mn)
    mn.on_packet(advert(FA2, coas=[FA2_COA], lifetime=60), NOW + 1)
    send, _ = the_request(mn.on_packet(advert(FA1, seq=3, lifetime=0), NOW + 2))
    assert send.dest == FA2


def test_busy_agent_takes_no_new_registration():
    """RFC 5944 §2.1.1 B bit: the FA will not accept registrations from additional nodes."""
    mn = node()
    assert requests(mn.on_packet(advert(flags=icmp.ADV_F | icmp.ADV_B), NOW)) == []
    assert len(requests(mn.on_packet(advert(seq=2), NOW + 1))) == 1


def test_advertisement_without_f_or_h_or_mobility_extension_is_ignored():
    """RFC 5944 §2.1.1 (at least one of F and H) and §2.4 (only advertisements with the mobility
    extension are agent advertisements)."""
    mn = node()
    plain = icmp.AgentAdvertisement(1800, routers=[(FA1, 0)], is_agent=False).encode()
    assert mn.on_packet(Packet(plain, FA1, "224.0.0.1", interface="eth0", icmp=True), NOW) == []
    assert mn.on_packet(advert(flags=0), NOW) == []
    assert mn.on_packet(advert(interface="eth9"), NOW) == []
    assert mn.counters["ignore.router_advertisement"] == 1
    assert mn.counters["discard.advertisement_no_service"] == 1
    assert mn.counters["discard.advertisement_unknown_interface"] == 1


# ============================================================================ returning home (§2.4.3, §4.6)


def test_returning_home_arp_then_gratuitous_arp_then_routes_then_deregistration():
    """RFC 5944 §2.4.3 and §4.6: on hearing its home agent the node re-enables ARP for its home
    address, sends a gratuitous ARP, configures routing for home, and only then deregisters:
    Lifetime 0, care-of address = home address, straight to the HA from the home address (C.3)."""
    mn = node()
    registered_with_fa1(mn)
    actions = mn.on_packet(home_advert(), NOW + 5)
    kinds = [type(a) for a in actions if not isinstance(a, (Log, ArmTimer, CancelTimer))]
    assert kinds == [SetArpReplies, SendGratuitousArp, RemoveHostRoute, SetDefaultRoute, SendUDP]
    assert SetArpReplies(HOME, "eth0", True) in actions and SendGratuitousArp(HOME, "eth0") in actions
    assert RemoveHostRoute(FA1, "eth0") in actions and SetDefaultRoute(HOME_GW, "eth0") in actions
    send, req = the_request(actions)
    assert (send.dest, send.source, send.lladdr) == (HA, HOME, None)
    assert (req.lifetime, req.care_of_address, req.home_agent, req.flags) == (0, HOME, HA, 0)
    assert mhae_ok(req)
    actions = mn.on_packet(reply_packet(req, source=HA), NOW + 5.1)
    assert decisions(actions)[0].event == "deregistration"
    st_ = mn.status(NOW + 5.1)
    assert st_.at_home and not st_.registered and not st_.pending and st_.last_reply_code == 0
    assert CancelTimer(RENEW_TIMER) in actions and CancelTimer(EXPIRE_TIMER) in actions


def test_gratuitous_arp_is_repeated_a_few_times_at_home():
    """RFC 5944 §4.6: the gratuitous ARP SHOULD be retransmitted a small number of times, in
    parallel with the deregistration."""
    mn = node()
    actions = mn.on_packet(home_advert(), NOW)
    sent = len(of_type(actions, SendGratuitousArp))
    t = timer_at(actions, garp_timer("eth0"))
    while t is not None:
        actions = mn.on_timer(garp_timer("eth0"), t)
        sent += len(of_type(actions, SendGratuitousArp))
        t = timer_at(actions, garp_timer("eth0"))
    assert sent == 3


def test_home_recognised_from_an_h_agent_in_the_home_prefix():
    """RFC 5944 §2.3 / §2.4.3: an agent with H set advertising from the home network is at home
    (here a second home agent address on the home link)."""
    mn = node()
    send, req = the_request(mn.on_packet(home_advert("10.1.1.2"), NOW))
    assert req.lifetime == 0 and send.dest == HA and mn.status(NOW).at_home


def test_a_foreign_home_agent_is_not_home():
    """RFC 5944 §2.4.3: only our own home agent (or one on our home network) means home; another
    network's agent offering H and F is a foreign agent to us."""
    mn = node()
    send, req = the_request(mn.on_packet(advert(FA1, flags=icmp.ADV_H | icmp.ADV_F), NOW))
    assert req.lifetime > 0 and send.dest == FA1 and mn.status(NOW).location == "away"


def test_move_fa1_to_fa2_to_home():
    """RFC 5944 §2.4.2 / §3.6 / §4.6: FA1 -> (FA1 lost) FA2 -> home; the data plane follows, the
    host route to the old FA goes, ARP is re-enabled only at home."""
    mn = node()
    registered_with_fa1(mn)
    mn.on_packet(advert(FA2, coas=[FA2_COA], lifetime=60), NOW + 10)
    actions = mn.on_timer(agent_timer(("eth0", FA1)), NOW + 15)
    _, req2 = the_request(actions)
    assert of_type(actions, SetArpReplies) == []  # already disabled when leaving home
    actions = mn.on_packet(reply_packet(req2, source=FA2), NOW + 15.2)
    assert RemoveHostRoute(FA1, "eth0") in actions and AddHostRoute(FA2, "eth0", FA2_MAC) in actions
    assert SetDefaultRoute(FA2, "eth0", source=HOME) in actions
    assert mn.status(NOW + 16).agent_address == FA2
    actions = mn.on_packet(home_advert(), NOW + 20)
    _, dereg = the_request(actions)
    assert dereg.lifetime == 0 and RemoveHostRoute(FA2, "eth0") in actions
    mn.on_packet(reply_packet(dereg, source=HA), NOW + 20.1)
    assert mn.status(NOW + 21).at_home


def test_leaving_home_disables_arp_before_registering():
    """RFC 5944 §4.6 (leaving home): ARP for the home address off before the request."""
    mn = node()
    _, dereg = the_request(mn.on_packet(home_advert(), NOW))
    mn.on_packet(reply_packet(dereg, source=HA), NOW + 0.1)
    actions = mn.on_timer(agent_timer(("eth0", HA)), NOW + 15)
    actions += mn.on_packet(advert(FA1), NOW + 16)
    assert index_of(actions, SetArpReplies) < index_of(actions, SendUDP)
    assert SetArpReplies(HOME, "eth0", False) in actions


# ============================================================================ co-located care-of address


def test_colocated_registration_goes_straight_to_the_home_agent():
    """RFC 5944 §3.6.1.1-§3.6.1.2 and App. C.2: D set, CoA = the co-located address, sent to the
    HA from that address; M/G allowed since the node decapsulates itself."""
    mn = node(colocated=True, encapsulation="gre")
    actions = mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW)
    send, req = the_request(actions)
    assert (send.dest, send.source, send.lladdr) == (HA, "203.0.113.7", None)
    assert req.flags & FLAG_D and req.flags & FLAG_G and req.care_of_address == "203.0.113.7"
    assert of_type(actions, SendICMP) == []  # §2.4: a care-of address is known, no soliciting


def test_colocated_acceptance_installs_decapsulation_and_reverse_tunnel():
    """RFC 5944 §3.6.2.2 / RFC 3024 §4.1.2: with a co-located address the node decapsulates the
    HA's tunnel and, with T granted, tunnels its own packets back to the HA."""
    mn = node(colocated=True, reverse_tunnel=True)
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW))
    assert req.flags & FLAG_T
    actions = mn.on_packet(reply_packet(req, source=HA), NOW + 0.2)
    assert AddTunnel("203.0.113.7", HA, "ipip") in actions
    assert AddReverseTunnel(HOME, "203.0.113.7", HA, "ipip") in actions
    assert SetDefaultRoute("203.0.113.1", "eth0", source=HOME) in actions
    assert mn.status(NOW + 1).colocated and mn.status(NOW + 1).care_of_address == "203.0.113.7"
    # unbound sockets too (no source when routed): into the tunnel, but not to the visited link
    assert AddUnboundRoute(HOME, "203.0.113.7", HA, "ipip", ("203.0.113.0/24",)) in actions
    assert index_of(actions, AddTunnel) < index_of(actions, AddReverseTunnel) < index_of(actions, AddUnboundRoute)


def test_unbound_route_only_colocated_with_reverse_tunnelling_granted():
    """RFC 3024 §5.1: what a co-located node sends goes into its reverse tunnel only if T was granted;
    through a foreign agent the FA reverse-tunnels (RFC 3024 §5.2) and the node routes nothing itself."""
    mn = node(colocated=True)  # no T asked
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW))
    actions = mn.on_packet(reply_packet(req, source=HA), NOW + 0.2)
    assert AddTunnel("203.0.113.7", HA, "ipip") in actions and of_type(actions, AddUnboundRoute) == []
    fa_mode = node(reverse_tunnel=True)
    _, req = the_request(fa_mode.on_packet(advert(flags=icmp.ADV_F | icmp.ADV_T), NOW))
    assert req.flags & FLAG_T
    assert of_type(fa_mode.on_packet(reply_packet(req), NOW + 0.2), AddUnboundRoute) == []


def test_unbound_route_leaves_an_off_prefix_gateway_on_the_link():
    """The visited link's router outside the link's prefix (reached "onlink") is not tunnelled either."""
    mn = node(colocated=True, reverse_tunnel=True)
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 28, "203.0.113.254"), NOW))
    [unbound] = of_type(mn.on_packet(reply_packet(req, source=HA), NOW + 0.2), AddUnboundRoute)
    assert unbound.bypass == ("203.0.113.0/28", "203.0.113.254/32")


def _colocated_with_t(mn):
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW))
    assert AddUnboundRoute(HOME, "203.0.113.7", HA, "ipip", ("203.0.113.0/24",)) in \
        mn.on_packet(reply_packet(req, source=HA), NOW + 0.1)


def test_unbound_route_removed_on_a_move_before_its_tunnel():
    """RFC 5944 §3.6: a new co-located address -> the old unbound route goes (before the old
    tunnel), the new one comes with the new tunnel; a link gone takes it with it."""
    mn = node(colocated=True, reverse_tunnel=True)
    _colocated_with_t(mn)
    _, req2 = the_request(mn.on_link(LinkChange("eth0", True, "198.51.100.9", 24, "198.51.100.1"), NOW + 30))
    actions = mn.on_packet(reply_packet(req2, source=HA), NOW + 30.1)
    assert index_of(actions, RemoveUnboundRoute) < index_of(actions, RemoveReverseTunnel) < \
        index_of(actions, RemoveTunnel)
    assert of_type(actions, RemoveUnboundRoute) == [RemoveUnboundRoute(HOME)]
    new = AddUnboundRoute(HOME, "198.51.100.9", HA, "ipip", ("198.51.100.0/24",))
    assert of_type(actions, AddUnboundRoute) == [new]
    actions = mn.on_link(LinkChange("eth0", False), NOW + 40)
    assert RemoveUnboundRoute(HOME) in actions and of_type(actions, AddUnboundRoute) == []


def test_unbound_route_removed_on_return_home():
    """§2.4.3, §4.6: back home (deregistering) the node routes from its home network again."""
    mn = node(colocated=True, reverse_tunnel=True)
    _colocated_with_t(mn)
    actions = mn.on_link(LinkChange("eth0", True, None, None), NOW + 5)
    actions += mn.on_packet(home_advert(), NOW + 5.5)
    assert mn.status(NOW + 6).location == "home"
    assert RemoveUnboundRoute(HOME) in actions and of_type(actions, AddUnboundRoute) == []


def test_registration_required_bit_sends_the_colocated_request_through_the_fa():
    """RFC 5944 §2.4.1: with R set the node SHOULD register through the FA even with a
    co-located address (D stays set, source = the co-located address, §3.6.1.1)."""
    mn = node(colocated=True)
    mn.on_link(LinkChange("eth0", True, "192.0.2.50", 24, "192.0.2.254"), NOW)
    send, req = the_request(mn.on_packet(advert(flags=icmp.ADV_F | icmp.ADV_R), NOW + 1))
    assert (send.dest, send.lladdr, send.source) == (FA1, FA1_MAC, "192.0.2.50")
    assert req.flags & FLAG_D and req.care_of_address == "192.0.2.50"


def test_fa_less_link_falls_back_to_a_colocated_address():
    """RFC 5944 §3.6 / App. C.2: on a link where no agent answers the initial solicitations but
    the link gave the node an address, it registers that address as co-located care-of address."""
    mn = node()
    actions = mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW)
    t = NOW
    for _ in range(3):
        assert requests(actions) == [] and len(of_type(actions, SendICMP)) == 1
        t = timer_at(actions, solicit_timer("eth0"))
        actions = mn.on_timer(solicit_timer("eth0"), t)
    send, req = the_request(actions)
    assert send.dest == HA and req.flags & FLAG_D and req.care_of_address == "203.0.113.7"


def test_address_change_on_the_link_reregisters_the_new_colocated_address():
    """RFC 5944 §3.6: a change in network connectivity (new DHCP address) -> register again."""
    mn = node(colocated=True)
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24), NOW))
    mn.on_packet(reply_packet(req, source=HA), NOW + 0.1)
    actions = mn.on_link(LinkChange("eth0", True, "198.51.100.9", 24), NOW + 30)
    _, req2 = the_request(actions)
    assert req2.care_of_address == "198.51.100.9"
    actions = mn.on_packet(reply_packet(req2, source=HA), NOW + 30.1)
    assert RemoveTunnel("203.0.113.7", HA, "ipip") in actions and AddTunnel("198.51.100.9", HA, "ipip") in actions
    assert index_of(actions, RemoveTunnel) < index_of(actions, AddTunnel)


# ============================================================================ solicitation (§2.4)


def _solicitation_waits(mn, actions, count, iface="eth0"):
    """Fire the solicitation timer `count` times; the waits between consecutive solicitations."""
    waits, t = [], NOW
    for _ in range(count):
        assert len(of_type(actions, SendICMP)) == 1
        nxt = timer_at(actions, solicit_timer(iface))
        waits.append(nxt - t)
        t = nxt
        actions = mn.on_timer(solicit_timer(iface), t)
    return waits


def test_solicitations_three_at_one_per_second_then_binary_backoff_to_a_minute():
    """RFC 5944 §2.4: at most three initial solicitations at one per second, then the interval
    doubles up to a maximum of at least one minute; randomised (never below the nominal value);
    TTL 1 (§2.2), sent to the Mobile-Agents group 224.0.0.11 (§2.3)."""
    mn = node()
    actions = mn.start(NOW)
    (sol,) = of_type(actions, SendICMP)
    assert (sol.dest, sol.interface, sol.ttl, sol.source) == ("224.0.0.11", "eth0", 1, HOME)
    assert isinstance(icmp.decode(sol.payload), icmp.AgentSolicitation)
    waits = _solicitation_waits(mn, actions, 10)
    nominal = [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(n <= w <= n * (1 + SOLICIT_JITTER) for w, n in zip(waits, nominal, strict=True)), waits
    assert max(nominal) == MAX_SOLICIT_INTERVAL and len(set(waits)) > 3  # randomised


def test_an_advertisement_stops_soliciting_on_that_link():
    """RFC 5944 §2.4: solicitations SHOULD only be sent in the absence of advertisements."""
    mn = node(SecurityAssociation("nobody", 0x100, KEY))  # no SA: hears agents, never registers
    mn.start(NOW)
    actions = mn.on_packet(advert(), NOW + 0.5)
    assert CancelTimer(solicit_timer("eth0")) in actions
    assert mn.on_timer(solicit_timer("eth0"), NOW + 1) == []


def test_search_resumes_at_the_slow_rate_without_a_positive_indication():
    """RFC 5944 §2.4: while searching the node MUST NOT increase the solicitation rate unless it
    has a positive indication of a move (or registered successfully since)."""
    mn = node()
    actions = mn.start(NOW)
    _solicitation_waits(mn, actions, 4)  # next wait would be 8 s nominal
    mn.on_packet(advert(flags=icmp.ADV_F | icmp.ADV_B, lifetime=10), NOW + 9)  # busy: no registration
    actions = mn.on_timer(agent_timer(("eth0", FA1)), NOW + 19)
    assert len(of_type(actions, SendICMP)) == 1
    assert timer_at(actions, solicit_timer("eth0")) - (NOW + 19) >= 16


def test_search_after_a_registration_starts_at_the_initial_rate():
    """RFC 5944 §2.4: after registering, the next search MAY start at the initial rate again."""
    mn = node()
    actions = mn.start(NOW)
    _solicitation_waits(mn, actions, 5)
    registered_with_fa1(mn, now=NOW + 40)
    actions = mn.on_timer(agent_timer(("eth0", FA1)), NOW + 55)
    assert len(of_type(actions, SendICMP)) == 1
    assert 1 <= timer_at(actions, solicit_timer("eth0")) - (NOW + 55) <= 1 + SOLICIT_JITTER


def test_link_up_is_a_positive_indication_and_restarts_fast_soliciting():
    """RFC 5944 §2.4 / §3.6: a link-layer indication of a new link restarts the search at the
    initial rate; link down cancels it."""
    mn = node()
    actions = mn.start(NOW)
    _solicitation_waits(mn, actions, 6)
    actions = mn.on_link(LinkChange("eth0", False), NOW + 40)
    assert CancelTimer(solicit_timer("eth0")) in actions and of_type(actions, SendICMP) == []
    assert mn.on_timer(solicit_timer("eth0"), NOW + 41) == []
    actions = mn.on_link(LinkChange("eth0", True), NOW + 50)
    assert len(of_type(actions, SendICMP)) == 1
    assert timer_at(actions, solicit_timer("eth0")) - (NOW + 50) <= 1 + SOLICIT_JITTER


# ============================================================================ links, reload, shutdown


def test_link_down_removes_what_was_installed_and_forgets_its_agents():
    """RFC 5944 §2.4.2 (link-layer indications) / §4.2.1: the routes through an FA on a link that
    went away are removed and that link's agents forgotten."""
    mn = node()
    registered_with_fa1(mn)
    actions = mn.on_link(LinkChange("eth0", False), NOW + 3)
    assert RemoveHostRoute(FA1, "eth0") in actions and SetDefaultRoute(None, None) in actions
    assert CancelTimer(agent_timer(("eth0", FA1))) in actions
    assert mn.agents() == [] and mn.status(NOW + 3).location == "detached"


def test_losing_one_interface_moves_to_an_agent_on_another():
    """RFC 5944 §2.4.2.1 / §3.6: with several interfaces, lose the link of the current agent and
    register with an agent heard on another link."""
    mn = node(interfaces=("eth0", "wlan0"))
    registered_with_fa1(mn)
    mn.on_packet(advert(FA2, coas=[FA2_COA], interface="wlan0"), NOW + 1)
    send, req = the_request(mn.on_link(LinkChange("eth0", False), NOW + 3))
    assert (send.dest, send.interface, req.care_of_address) == (FA2, "wlan0", FA2_COA)


def test_link_events_for_unknown_interfaces_are_ignored():
    """RFC 5944 §2.4: the node only roams on its configured interfaces."""
    mn = node()
    assert mn.on_link(LinkChange("eth9", True, "203.0.113.7", 24), NOW) == []
    assert mn.counters["ignore.link_unknown_interface"] == 1


def test_reload_with_new_settings_registers_again():
    """RFC 5944 §3.6: the node MAY register again at any time; a reload that changes what it
    asks for (here reverse tunnelling) sends a new request at once."""
    mn = node()
    registered_with_fa1(mn, flags=icmp.ADV_F | icmp.ADV_T)
    mn.on_packet(advert(FA1, seq=2, flags=icmp.ADV_F | icmp.ADV_T), NOW + 3)
    actions = mn.on_config(config(reverse_tunnel=True), SecurityAssociations([SA_HOME]), NOW + 4)
    _, req = the_request(actions)
    assert req.flags & FLAG_T
    assert mn.on_config(config(reverse_tunnel=True), SecurityAssociations([SA_HOME]), NOW + 6) == []


def test_reload_with_a_new_home_agent_registers_with_it():
    """RFC 5944 §3.6.1.2: the Home Agent field is the node's (configured) home agent."""
    mn = node()
    registered_with_fa1(mn)
    mn.on_packet(advert(FA1, seq=2), NOW + 3)
    actions = mn.on_config(config(home_agent="10.1.1.3"), SecurityAssociations([SA_HOME]), NOW + 4)
    assert the_request(actions)[1].home_agent == "10.1.1.3"


def test_reload_with_a_newer_sa_registers_again_with_it():
    """RFC 5944 §3.5 key rotation: a reload whose newest SA with the home agent is new sends a
    request signed with it at once (no waiting for the lifetime to run out); same SAs: nothing."""
    mn = node()
    registered_with_fa1(mn)
    mn.on_packet(advert(FA1, seq=2), NOW + 3)
    assert mn.on_config(config(), SecurityAssociations([SA_HOME]), NOW + 4) == []
    newer = SecurityAssociation(SA_HOME.peer, SA_HOME.spi + 1, b"\x42" * 16)
    _, req = the_request(mn.on_config(config(), SecurityAssociations([SA_HOME, newer]), NOW + 5))
    assert req.find(MHAE).spi == newer.spi


def test_shutdown_removes_routes_and_cancels_timers_without_sending():
    """Sans-IO teardown: everything installed is removed, nothing is sent; ARP stays off away
    from home (RFC 5944 §4.6)."""
    mn = node(colocated=True, reverse_tunnel=True)
    _, req = the_request(mn.on_link(LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"), NOW))
    mn.on_packet(reply_packet(req, source=HA), NOW + 0.1)
    actions = mn.shutdown()
    assert RemoveReverseTunnel(HOME) in actions and RemoveTunnel("203.0.113.7", HA, "ipip") in actions
    assert RemoveUnboundRoute(HOME) in actions
    assert SetDefaultRoute(None, None) in actions
    for key in (SEND_TIMER, RENEW_TIMER, EXPIRE_TIMER, solicit_timer("eth0"), garp_timer("eth0")):
        assert CancelTimer(key) in actions
    assert of_type(actions, SendUDP) == [] and of_type(actions, SetArpReplies) == []


def test_status_of_a_fresh_node():
    """`mipctl status`: nothing heard, nothing registered."""
    st_ = node().status(NOW)
    assert (st_.location, st_.registered, st_.pending, st_.care_of_address, st_.last_reply_code) == (
        "detached",
        False,
        False,
        None,
        None,
    )
    assert st_.home_agent == HA and st_.lifetime_left is None


# ============================================================================ robustness (hypothesis)


def _pending_node():
    mn = node()
    _, req = the_request(mn.on_packet(advert(lifetime=10_000), NOW))
    return mn, req


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_as_a_reply_never_raise(data):
    """RFC 5944 §3.6.2.1: whatever arrives on port 434 is processed or silently discarded."""
    mn, req = _pending_node()
    assert isinstance(mn.on_packet(Packet(data, FA1, HOME, interface="eth0"), NOW + 0.1), list)
    assert mn.counters["discard.internal_error"] == 0
    mn.on_packet(reply_packet(req), NOW + 0.2)  # still answers a valid reply afterwards
    assert mn.status(NOW + 0.2).registered


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(["eth0", "eth9", None]))
def test_arbitrary_bytes_as_an_advertisement_never_raise(data, iface):
    """RFC 5944 §2.4: malformed ICMP never raises out of the node."""
    mn, _ = _pending_node()
    assert isinstance(mn.on_packet(Packet(data, FA2, "224.0.0.1", interface=iface, icmp=True), NOW + 1), list)
    assert mn.counters["discard.internal_error"] == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.sampled_from([HA, "10.1.1.2", "0.0.0.0", "255.255.255.255", "224.0.0.1"]),
    st.integers(0, 0xFFFFFFFF),
    st.booleans(),
    st.booleans(),
)
def test_any_matching_reply_gets_exactly_one_decision_or_a_discard(code, lifetime, ha, high, signed, chal):
    """RFC 5944 §3.6.2: a reply matching the pending request is either discarded (counted) or
    acted upon with exactly one logged decision; odd fields never raise."""
    mn, req = _pending_node()
    ident = (high << 32) | (req.identification & 0xFFFFFFFF)
    exts = [ChallengeExtension(b"c" * 8)] if chal else []
    pkt = reply_packet(
        req, code, lifetime=lifetime, ident=ident, home_agent=ha, sa=SA_HOME if signed else None, extensions=exts
    )
    actions = mn.on_packet(pkt, NOW + 0.5)
    assert mn.counters["discard.internal_error"] == 0
    logs = decisions(actions)
    assert len(logs) == 1 or (logs == [] and sum(v for k, v in mn.counters.items() if k.startswith("discard.")))


_EVENT = st.one_of(
    st.tuples(
        st.just("adv"),
        st.sampled_from([FA1, FA2, HA, "10.1.1.2"]),
        st.integers(0, 600),
        st.integers(0, 40),
        st.sampled_from([0, icmp.ADV_T, icmp.ADV_R, icmp.ADV_B, icmp.ADV_G]),
        st.sampled_from([None, 24, 16]),
    ),
    st.tuples(st.just("reply"), st.sampled_from([0, 1, 69, 72, 74, 75, 77, 78, 104, 129, 130, 133, 136, 139])),
    st.tuples(st.just("timer"), st.sampled_from(["send", "renew", "expire", "solicit", "agent", "garp"])),
    st.tuples(st.just("link"), st.booleans(), st.sampled_from([None, "203.0.113.7", "10.1.1.10"])),
    st.tuples(st.just("wait"), st.floats(0.01, 120)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_EVENT, max_size=40), st.booleans())
def test_random_event_sequences_keep_the_invariants(events, colocated):
    """Whatever happens: never raises; requests at least 1 s apart (RFC 5944 §3.6, §3.6.3);
    tunnels added and removed in pairs; ARP answered for the home address only at home (§4.6)."""
    mn = MobileNode(config(colocated=colocated, reverse_tunnel=True), SecurityAssociations([SA_HOME]), random.Random(3))
    now, last_req, seq = NOW, None, {FA1: 10, FA2: 10, HA: 10, "10.1.1.2": 10}
    tunnels = unbound = 0
    actions = mn.start(now)
    for ev in events:
        if ev[0] == "adv":
            _, src, s, life, extra, prefix = ev
            base = icmp.ADV_H if src in (HA, "10.1.1.2") else icmp.ADV_F
            seq[src] = s
            actions = mn.on_packet(
                advert(src, flags=base | (extra if base == icmp.ADV_F else 0), seq=s, lifetime=life, prefix=prefix), now
            )
        elif ev[0] == "reply":
            sent = requests(actions)
            if not sent:
                continue
            req = sent[-1][1]
            actions = mn.on_packet(
                reply_packet(req, ev[1], lifetime=req.lifetime or 0, sa=None if 64 <= ev[1] < 128 else SA_HOME), now
            )
        elif ev[0] == "timer":
            key = {
                "send": SEND_TIMER,
                "renew": RENEW_TIMER,
                "expire": EXPIRE_TIMER,
                "solicit": solicit_timer("eth0"),
                "agent": agent_timer(("eth0", FA1)),
                "garp": garp_timer("eth0"),
            }[ev[1]]
            actions = mn.on_timer(key, now)
        elif ev[0] == "link":
            actions = mn.on_link(LinkChange("eth0", ev[1], ev[2], 24), now)
        else:
            now += ev[1]
            continue
        assert mn.counters["discard.internal_error"] == 0
        for _sent in of_type(actions, SendUDP):
            assert last_req is None or now - last_req >= 1.0 - 1e-9
            last_req = now
        tunnels += len(of_type(actions, AddTunnel)) - len(of_type(actions, RemoveTunnel))
        assert tunnels in (0, 1)
        unbound += len(of_type(actions, AddUnboundRoute)) - len(of_type(actions, RemoveUnboundRoute))
        assert unbound in (0, 1) and unbound <= tunnels  # RFC 3024 §5.1: only with a reverse tunnel
        for a in of_type(actions, SetArpReplies):
            assert a.enable == mn.status(now).at_home


# ============================================================================ with the project's HA and FA


def _home_agent(sa=SA_HOME):
    cfg = HomeAgentConfig(HA, "home0", ("10.1.1.0/24",), mobile_hosts=HostSet(("10.1.1.0/24",)))
    return HomeAgent(cfg, SecurityAssociations([sa]), random.Random(11))


def _project_net(mn, ha, fa=None, mn_skew=0.0):
    """The project's HA on link "home"; the node's "eth0" on link "visited", where the project's
    FA serves its "eth1" when given. Neither agent is started (the HA does not advertise)."""
    net = SimNet(NOW)
    net.add("ha", ha, {"home0": ("home", HA)})
    if fa is not None:
        net.add("fa", fa, {"eth1": ("visited", FA1)})
    net.add("mn", mn, {"eth0": ("visited", None)}, extra_addresses=(HOME,), clock_skew=mn_skew)
    return net


def _actions_of(net, name):
    return [a for _, who, a in net.trace if who == name]


def _register_through_project_fa(mn, fa_sas=(), **fa_kw):
    ha = _home_agent()
    cfg = ForeignAgentConfig(interfaces=(ServedInterface("eth1", FA1, 24),), **fa_kw)
    fa = ForeignAgent(cfg, SecurityAssociations(list(fa_sas)), random.Random(12))
    net = _project_net(mn, ha, fa)
    net.start("fa")
    net.start("mn")
    net.run(NOW + 12)
    return net, ha, fa


def test_interop_registration_through_the_project_foreign_agent():
    """RFC 5944 §3.6/§3.7/§3.8 end to end with this project's FA and HA: solicitation, solicited
    advertisement, request relayed, T and GRE negotiated (RFC 3024, §3.6.1.2), reply relayed."""
    mn = node(reverse_tunnel=True, encapsulation="gre")
    net, ha, fa = _register_through_project_fa(mn, reverse_tunnel="offered")
    st_ = mn.status(net.now)
    assert st_.registered and st_.agent_address == FA1 and st_.last_reply_code == 0, (st_, fa.counters)
    (binding,) = ha.bindings()
    assert (binding.home_address, binding.care_of_address, binding.reverse, binding.encap) == (HOME, FA1, True, "gre")
    assert [v.home_address for v in fa.visitors(net.now)] == [HOME]
    assert SetDefaultRoute(FA1, "eth0", source=HOME) in _actions_of(net, "mn")


def test_interop_challenge_answered_with_an_mfae_through_the_project_foreign_agent():
    """RFC 3012 §3.1-§3.2: with an MN-FA SA the node answers the advertised challenge with an
    MFAE after it; the project FA checks both and registers the node."""
    mn = node(SA_HOME, SA_FA1)
    fa_side = SecurityAssociation(HOME, SA_FA1.spi, SA_FA1.key)  # the FA files it under our home address
    net, ha, fa = _register_through_project_fa(mn, fa_sas=[fa_side], challenge=True)
    assert mn.status(net.now).registered, (mn.status(net.now), fa.counters)
    assert ha.bindings()[0].care_of_address == FA1


def test_interop_challenge_answered_with_mn_aaa_through_the_project_foreign_agent():
    """RFC 3012 §3.1: without an MN-FA SA the node answers the challenge with MN-AAA; the FA
    relays the challenge, the HA must echo it (§3.4), and the node is registered."""
    mn = node()
    net, ha, fa = _register_through_project_fa(mn, challenge=True)
    assert mn.status(net.now).registered, (mn.status(net.now), fa.counters)


def test_interop_colocated_registration_and_deregistration_at_home():
    """RFC 5944 §3.6.1 (co-located, App. C.2) and §2.4.3/§4.6 (deregistration, App. C.3) with the
    project's HA: the binding appears, then disappears when the node is home."""
    mn = node(colocated=True)
    ha = _home_agent()
    net = _project_net(mn, ha)
    net.attach("mn", "eth0", "visited", "203.0.113.7")
    net.link_change("mn", LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"))
    assert mn.status(NOW).registered and ha.bindings()[0].care_of_address == "203.0.113.7"
    net.run(NOW + 20)
    net.attach("mn", "eth0", "home", HOME)  # carried home: only the HA's advertisement tells it (§2.4.2)
    net.inject("mn", home_advert())
    assert mn.status(net.now).at_home and not mn.status(net.now).registered and ha.bindings() == []


def test_interop_colocated_reverse_tunnel_routes_unbound_datagrams_until_home():
    """RFC 3024 §5.1 with a co-located address (RFC 5944 §3.6) and the project's HA granting T: the
    node routes its unbound datagrams into the reverse tunnel while away and stops at home."""
    mn = node(colocated=True, reverse_tunnel=True)
    ha = _home_agent()
    net = _project_net(mn, ha)
    net.attach("mn", "eth0", "visited", "203.0.113.7")
    net.link_change("mn", LinkChange("eth0", True, "203.0.113.7", 24, "203.0.113.1"))
    assert ha.bindings()[0].reverse
    dp = net.nodes["mn"].dataplane
    assert dp.unbound == {HOME: (("203.0.113.7", HA, "ipip"), ("203.0.113.0/24",))}
    assert dp.reverse == {HOME: ("203.0.113.7", HA, "ipip")}
    net.attach("mn", "eth0", "home", HOME)
    net.inject("mn", home_advert())
    assert mn.status(net.now).at_home and dp.unbound == {} and dp.reverse == {}


def test_interop_clock_skew_is_repaired_by_a_133_from_the_project_home_agent():
    """RFC 5944 §3.6.2.3 / §5.7.1: the node's clock is 100 s behind; the HA answers 133 with its
    time; the node resynchronises and the next request is accepted."""
    mn = node(colocated=True)
    net = _project_net(mn, _home_agent(), mn_skew=-100.0)
    net.attach("mn", "eth0", "visited", "203.0.113.7")
    net.link_change("mn", LinkChange("eth0", True, "203.0.113.7", 24))
    assert mn.status(net.clock("mn")).last_reply_code == 133
    net.run(NOW + 2)
    assert mn.status(net.clock("mn")).registered and mn.counters["resync"] == 1


def test_interop_nonces_synchronise_with_the_project_home_agent():
    """RFC 5944 §5.7.2: the first request carries no valid nonce; the HA's 133 reply hands one out
    (self-synchronising) and the next request, carrying it, is accepted."""
    sa = SecurityAssociation(HOME, 0x100, KEY, replay="nonce")
    mn = node(sa, colocated=True)
    net = _project_net(mn, _home_agent(sa))
    net.attach("mn", "eth0", "visited", "203.0.113.7")
    net.link_change("mn", LinkChange("eth0", True, "203.0.113.7", 24))
    net.run(NOW + 2)
    assert mn.status(net.now).registered
