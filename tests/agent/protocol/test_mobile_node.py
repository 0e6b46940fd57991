"""Mobile node state machine (mipd.protocol.mobile_node): RFC 5944 §2.4, §3.6, §4.2.1, §4.6;
RFC 3024 §4.1; RFC 3012 §3.1; RFC 2794 §2.

Packets are built with the wire codec and signed with mipd.security.sign; the assertions are on
the returned actions and on the decoded bytes of what the node sends. Time is passed in.
"""

from __future__ import annotations

import pytest
from mipd.protocol import codes
from mipd.protocol.actions import (
    AddHostRoute,
    ArmTimer,
    CancelTimer,
    Log,
    Packet,
    SendUDP,
    SetArpReplies,
    SetDefaultRoute,
)
from mipd.protocol.mobile_node import (
    EXPIRE_TIMER,
    HOLDDOWN,
    RENEW_TIMER,
    SEND_TIMER,
    agent_timer,
)
from mipd.security import SecurityAssociation
from mipd.security.replay import ntp_seconds
from mipd.wire import (
    FLAG_G,
    FLAG_M,
    FLAG_T,
    MFAE,
    MHAE,
    ChallengeExtension,
    NAIExtension,
    icmp,
)
from mn_helpers import (
    FA1,
    FA1_COA,
    FA1_MAC,
    FA2,
    FA2_COA,
    HA,
    HOME,
    KEY,
    NOW,
    SA_FA1,
    SA_HOME,
    Driver,
    advert,
    auth_ext,
    decisions,
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
    from mipd.security import verify

    assert mfae.spi == SA_FA1.spi and verify(SA_FA1, req.raw, mfae) is not None


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
    d.feed(advert(FA1, coas=[FA1_COA], lifetime=10_000), NOW)
    from_ha = not (64 <= code <= 127 or code == 194)
    actions = d.reply(code, NOW + 0.2, sa=SA_HOME if from_ha else None, lifetime=600 if code == 69 else None)
    assert len(decisions(actions)) == 1 and decisions(actions)[0].fields["code"] == code
    assert d.mn.status(NOW + 0.2).last_reply_code == code
    nxt = send_timer_at(actions)
    if nxt is None:  # the FA was left (held down): the next advertisement after the hold brings it back
        assert d.mn.status(NOW + 0.2).location == "detached"
        nxt = NOW + 0.2 + HOLDDOWN
        assert requests(d.mn.on_packet(advert(FA1, seq=9, lifetime=10_000), nxt - 1)) == []
        assert len(requests(d.mn.on_packet(advert(FA1, seq=10, lifetime=10_000), nxt))) == 1
    else:
        assert nxt >= NOW + 1
        assert len(requests(d.mn.on_timer(SEND_TIMER, nxt))) == 1
