"""Bounded work before authentication and denial rate limits in the state machines (RFC 5944
§3.8.2.1: the authenticator is checked first; §3.7.2: denials are rate-limited): oversize and
over-extended datagrams discarded and counted, a home agent that reads what follows the MHAE only
once it verified, and at most the configured denial replies and log lines per source."""

from __future__ import annotations

import random
from dataclasses import replace

import fa_helpers as fah
import mn_helpers as mnh
from mipd.protocol import actions as A
from mipd.protocol import codes
from mipd.protocol.config import HomeAgentConfig, Limits
from mipd.protocol.filters import HostSet
from mipd.protocol.foreign_agent import DENIAL_TIMER as FA_DENIAL_TIMER
from mipd.protocol.home_agent import DENIAL_TIMER, HomeAgent
from mipd.security import SecurityAssociation, SecurityAssociations, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import FHAE, MHAE, NAIExtension, PadExtension, UnknownExtension

HA = "10.1.0.1"
MN = "10.1.0.10"
FA = "10.2.0.1"
ATTACKER = "198.51.100.66"
NOW = 1_800_000_000.0
MN_SA = SecurityAssociation(MN, 256, bytes(range(16)))
FA_SA = SecurityAssociation(FA, 300, b"fa-ha-shared-key")


def home_agent(*sas: SecurityAssociation, **limits: float) -> HomeAgent:
    config = HomeAgentConfig(HA, "home0", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24", "*@example.net")),
                             limits=Limits(**limits))  # type: ignore[arg-type]
    return HomeAgent(config, SecurityAssociations(list(sas or [MN_SA])), random.Random(1))


def request(sa: SecurityAssociation = MN_SA, *, before: bytes = b"", after: bytes = b"", fa_sa=None,
            ident: int | None = None, key: bytes | None = None) -> bytes:
    msg = reg.RegistrationRequest(0, 600, MN, HA, FA, ntp_timestamp(NOW) if ident is None else ident)
    data = sign(sa if key is None else replace(sa, key=key), msg.encode_fixed() + before, MHAE) + after
    return sign(fa_sa, data, FHAE) if fa_sa is not None else data


def packet(data: bytes, source: str = FA) -> A.Packet:
    return A.Packet(data, source, HA, 434)


def sends(actions: list) -> list[A.SendUDP]:
    return [a for a in actions if isinstance(a, A.SendUDP)]


def logs(actions: list, event: str = "registration-denied") -> list[A.Log]:
    return [a for a in actions if isinstance(a, A.Log) and a.event == event]


# ---------------------------------------------------------------- home agent: bounded decoding


def test_ha_discards_an_oversize_datagram_unread():
    ha = home_agent()
    fixed = reg.RegistrationRequest(0, 600, MN, HA, FA, 1).encode_fixed()
    assert ha.on_packet(packet(fixed + bytes(65_507 - 24)), NOW) == []
    assert ha.on_packet(packet(request(after=bytes(2000))), NOW) == []
    assert ha.counters["discard.oversize"] == 2 and ha.counters["rx.request"] == 0
    assert ha.bindings() == []


def test_ha_takes_a_request_of_exactly_the_limit():
    data = request(before=NAIExtension("n" * 60).encode())
    ha = home_agent(message_size=len(data))
    assert sends(ha.on_packet(packet(data), NOW))
    assert ha.counters["accepted.registration"] == 1


def test_ha_discards_more_extensions_than_the_limit():
    ha = home_agent(extensions=4)
    too_many = request(before=PadExtension().encode() * 4)  # 4 pads + the MHAE
    assert ha.on_packet(packet(too_many), NOW) == []
    assert ha.counters["discard.too_many_extensions"] == 1 and ha.bindings() == []
    ok = request(before=PadExtension().encode() * 3, ident=ntp_timestamp(NOW + 1))
    assert sends(ha.on_packet(packet(ok), NOW + 1)) and ha.counters["accepted.registration"] == 1


def test_ha_does_not_read_past_the_mhae_of_a_node_it_has_no_sa_with():
    """No SA with the node: discarded (§3.8.2.1 a) before the undecodable rest is even looked at."""
    stranger = SecurityAssociation("10.1.0.99", 256, bytes(16))
    data = sign(stranger, reg.RegistrationRequest(0, 600, "10.1.0.99", HA, FA, 1).encode_fixed(), MHAE) + b"\x05\x00"
    ha = home_agent()
    assert ha.on_packet(packet(data), NOW) == []
    assert ha.counters["discard.no_sa"] == 1 and ha.counters["discard.unknown_extension"] == 0


def test_ha_discards_a_verified_request_whose_rest_does_not_decode():
    """§1.9: an unknown extension 0-127 after the MHAE still discards the request silently, now
    found once the MHAE verified; no binding, no reply."""
    ha = home_agent()
    assert ha.on_packet(packet(request(after=b"\x05\x00")), NOW) == []
    assert ha.counters["discard.unknown_extension"] == 1 and ha.bindings() == []
    assert ha.on_packet(packet(request(after=b"\x22\x40", ident=ntp_timestamp(NOW + 1))), NOW + 1) == []
    assert ha.counters["discard.malformed"] == 1 and ha.bindings() == []


def test_ha_forged_mhae_with_an_undecodable_rest_is_discarded_not_answered():
    ha = home_agent()
    assert ha.on_packet(packet(request(key=bytes(16), after=b"\x05\x00")), NOW) == []
    assert ha.counters["discard.unknown_extension"] == 1 and ha.counters["denied.131"] == 0


def test_ha_reads_the_fhae_after_the_mhae_verified_and_accepts():
    ha = home_agent(MN_SA, FA_SA)
    out = ha.on_packet(packet(request(fa_sa=FA_SA)), NOW)
    [reply] = sends(out)
    rep = reg.decode_reply(reply.payload)
    assert rep.code == codes.ACCEPTED and rep.find(FHAE) is not None
    bad_fhae = request(fa_sa=replace(FA_SA, key=b"wrong"), ident=ntp_timestamp(NOW + 1))
    assert reg.decode_reply(sends(ha.on_packet(packet(bad_fhae), NOW + 1))[0].payload).code == codes.HA_FA_AUTH
    two_fhaes = sign(FA_SA, request(fa_sa=FA_SA, ident=ntp_timestamp(NOW + 2)), FHAE)
    assert reg.decode_reply(sends(ha.on_packet(packet(two_fhaes), NOW + 2))[0].payload).code == codes.HA_FA_AUTH


def test_ha_fhae_without_an_fa_sa_still_discards():
    ha = home_agent()
    assert ha.on_packet(packet(request(fa_sa=FA_SA)), NOW) == []
    assert ha.counters["discard.fhae_without_sa"] == 1


def test_ha_nai_after_the_mhae_still_does_not_count():
    """RFC 2794: only an NAI the MHAE covers names the node; one after it is decoded later, unused."""
    ha = home_agent()
    [reply] = sends(ha.on_packet(packet(request(after=NAIExtension("evil@example.net").encode())), NOW))
    assert reg.decode_reply(reply.payload).code == codes.ACCEPTED
    assert ha.bindings()[0].nai is None


def test_ha_skippable_extensions_after_the_mhae_are_accepted():
    ha = home_agent()
    data = request(after=UnknownExtension(200, b"vendor").encode())
    assert reg.decode_reply(sends(ha.on_packet(packet(data), NOW))[0].payload).code == codes.ACCEPTED


# ---------------------------------------------------------------- home agent: denial rate limits


def test_ha_forged_flood_gets_the_configured_replies_and_lines_then_one_summary():
    ha = home_agent(denial_replies_per_source=3, denial_logs_per_source=2)
    out: list = []
    for i in range(50):
        out += ha.on_packet(packet(request(key=bytes(16), ident=ntp_timestamp(NOW, i)), ATTACKER), NOW + i * 0.001)
    assert len(sends(out)) == 3 and len(logs(out)) == 2
    # armed once, a second after the first line left out (the third denial)
    assert [a for a in out if isinstance(a, A.ArmTimer)] == [A.ArmTimer(DENIAL_TIMER, NOW + 0.002 + 1.0)]
    assert ha.counters["denied.131"] == 50
    assert ha.counters["denial.reply_suppressed"] == 47 and ha.counters["denial.log_suppressed"] == 48
    [summary] = ha.on_timer(DENIAL_TIMER, NOW + 1.0)
    assert summary.fields["source"] == ATTACKER and summary.fields["count"] == 48
    # a node with the key, from the same address, is not held: acceptance is never rate-limited
    accepted = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 0.5)), ATTACKER), NOW + 0.5)
    assert reg.decode_reply(sends(accepted)[0].payload).code == codes.ACCEPTED


def test_ha_denials_to_other_sources_are_not_held_by_a_flooder():
    ha = home_agent(denial_replies_per_source=2, denial_replies_total=100)
    for i in range(20):
        ha.on_packet(packet(request(key=bytes(16), ident=ntp_timestamp(NOW, i)), ATTACKER), NOW)
    stale = request(ident=ntp_timestamp(NOW - 3600))  # the real node, clock off: 133 tells it our time
    [reply] = sends(ha.on_packet(packet(stale), NOW))
    assert reg.decode_reply(reply.payload).code == codes.HA_ID_MISMATCH


def test_ha_total_denial_rate_holds_many_sources():
    ha = home_agent(denial_replies_per_source=10, denial_replies_total=5)
    out: list = []
    for i in range(40):
        out += ha.on_packet(packet(request(key=bytes(16), ident=ntp_timestamp(NOW, i)), f"198.51.100.{i}"), NOW)
    assert len(sends(out)) == 5


def test_ha_reload_applies_new_limits():
    ha = home_agent(denial_replies_per_source=1)
    ha.on_config(replace(ha.config, limits=Limits(denial_replies_per_source=4)), ha.sas, NOW)
    out: list = []
    for i in range(10):
        out += ha.on_packet(packet(request(key=bytes(16), ident=ntp_timestamp(NOW, i)), ATTACKER), NOW)
    assert len(sends(out)) == 4


# ---------------------------------------------------------------- foreign agent


def test_fa_discards_oversize_and_over_extended_messages():
    fa = fah.agent(limits=Limits(extensions=4))
    fa.start(fah.NOW)
    big = fah.request_bytes(after_mhae=[UnknownExtension(200, bytes(255))] * 5)
    assert fa.on_packet(fah.from_mn(big), fah.NOW) == [] and fa.counters["discard.oversize"] == 1
    many = fah.request_bytes(before_mhae=[PadExtension()] * 4)
    assert fa.on_packet(fah.from_mn(many), fah.NOW) == [] and fa.counters["discard.too_many_extensions"] == 1
    assert fa.pending() == []


def test_fa_denials_per_source_are_limited_even_when_the_node_varies():
    """§3.7.2's one denial per second per node does not hold a flooder naming a new node each time."""
    fa = fah.agent(limits=Limits(denial_replies_per_source=3, denial_logs_per_source=1))
    fa.start(fah.NOW)
    out: list = []
    for i in range(30):
        bad = fah.request_bytes(flags=0x04, home=f"10.1.1.{100 + i}")  # reserved bit r: 70
        out += fa.on_packet(fah.from_mn(bad), fah.NOW)
    assert len(sends(out)) == 3 and len(logs(out)) == 1
    assert fa.counters["denial.reply_suppressed"] == 27
    [summary] = fa.on_timer(FA_DENIAL_TIMER, fah.NOW + 1)
    assert summary.fields == {"source": fah.HOME, "count": 29, "reason": summary.fields["reason"]}


def test_fa_per_node_rule_spends_no_source_token():
    fa = fah.agent(limits=Limits(denial_replies_per_source=1))
    fa.start(fah.NOW)
    bad = fah.request_bytes(flags=0x04)
    assert len(sends(fa.on_packet(fah.from_mn(bad), fah.NOW))) == 1
    assert sends(fa.on_packet(fah.from_mn(bad), fah.NOW + 0.5)) == []  # §3.7.2: same node within a second
    assert fa.counters["denial.rate_limited"] == 1 and fa.counters["denial.reply_suppressed"] == 0
    assert len(sends(fa.on_packet(fah.from_mn(bad), fah.NOW + 1.0))) == 1


# ---------------------------------------------------------------- mobile node


def test_mn_discards_oversize_and_over_extended_replies():
    mn = mnh.node(limits=Limits(extensions=3))
    _, req = mnh.the_request(mn.on_packet(mnh.advert(mnh.FA1), mnh.NOW))
    big = mnh.reply_packet(req, extensions=[UnknownExtension(200, bytes(255))] * 4)
    assert mn.on_packet(big, mnh.NOW + 0.1) == [] and mn.counters["discard.oversize"] == 1
    many = mnh.reply_packet(req, extensions=[PadExtension()] * 3)
    assert mn.on_packet(many, mnh.NOW + 0.1) == [] and mn.counters["discard.too_many_extensions"] == 1
    assert not mn.status(mnh.NOW + 0.1).registered
    mn.on_packet(mnh.reply_packet(req), mnh.NOW + 0.2)
    assert mn.status(mnh.NOW + 0.2).registered
