"""The home agent with SAs from an AAA server (mipd.protocol.aaa): lookups, held requests, the cache.

RFC 5944 §3.8.2.1 a: the SA authenticates the request; fetched for identity X it authenticates
only what X may hold (RFC 2794, HomeAgentConfig.holds). Sans-IO: a LookupSA action out, a
LookupResult in.
"""

from __future__ import annotations

import random

from mipd.protocol import actions as A
from mipd.protocol.aaa import ACCEPT, MALFORMED, REJECT, SWEEP_TIMER, UNREACHABLE, AaaSettings, LookupResult, LookupSA
from mipd.protocol.config import HomeAgentConfig, NaiHost
from mipd.protocol.filters import HostSet
from mipd.protocol.home_agent import HomeAgent
from mipd.security import SecurityAssociation, SecurityAssociations, verify
from mipd.security.replay import ntp_timestamp
from mipd.wire.extensions import FHAE, MHAE, NAIExtension
from test_home_agent import FA, HA, KEY, MN, MN2, NOW, fa_sa, packet, reply_of, request

OTHER_KEY = bytes(range(100, 116))


def make_ha(file_sas: list[SecurityAssociation] | None = None, **aaa) -> HomeAgent:
    config = HomeAgentConfig(
        HA,
        "home0",
        ("10.1.0.0/24",),
        mobile_hosts=HostSet(("10.1.0.0/24", "*@example.net")),
        nai_hosts=(NaiHost("x@example.net", (MN2,)),),
    )
    return HomeAgent(config, SecurityAssociations(file_sas or []), random.Random(1), aaa=AaaSettings(**aaa))


def lookups(actions: list) -> list[LookupSA]:
    return [a for a in actions if isinstance(a, LookupSA)]


def accept(identity: str, key: bytes = KEY, spi: int = 256) -> LookupResult:
    return LookupResult(identity, ACCEPT, (SecurityAssociation(identity, spi, key),), "127.0.0.1:1812")


def test_first_registration_is_held_then_accepted_once_the_sa_arrives():
    ha = make_ha()
    out = ha.on_packet(packet(request()), NOW)
    assert [a.identity for a in lookups(out)] == [MN]
    assert not [a for a in out if isinstance(a, A.SendUDP)]  # held, not answered
    out = ha.on_sa_lookup(accept(MN), NOW + 0.5)
    assert reply_of(out).code == 0
    assert ha.bindings_of(MN)
    # cached: the next registration needs no lookup
    out = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 1))), NOW + 1)
    assert not lookups(out)


def test_concurrent_requests_share_one_lookup_and_the_per_node_hold_is_bounded():
    ha = make_ha(pending_per_node=2)
    first = ha.on_packet(packet(request()), NOW)
    second = ha.on_packet(packet(request()), NOW)
    third = ha.on_packet(packet(request()), NOW)
    assert len(lookups(first)) == 1 and not lookups(second) and not lookups(third)
    assert ha.counters["aaa.lookup_shared"] == 1 and ha.counters["aaa.held_over_limit"] == 1
    out = ha.on_sa_lookup(accept(MN), NOW)
    assert len([a for a in out if isinstance(a, A.SendUDP)]) == 2  # the two held: one accepted, one replay (133)


def test_other_nodes_are_served_while_a_lookup_runs():
    ha = make_ha(file_sas=[SecurityAssociation(MN, 256, KEY)])
    ha.on_packet(packet(request(home="10.1.0.20", sa=SecurityAssociation("10.1.0.20", 256, KEY))), NOW)
    assert reply_of(ha.on_packet(packet(request()), NOW)).code == 0


def test_a_wrong_key_in_aaa_gives_131_and_a_reject_gives_no_binding():
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    assert reply_of(ha.on_sa_lookup(accept(MN, OTHER_KEY), NOW)).code == 131
    ha2 = make_ha()
    ha2.on_packet(packet(request()), NOW)
    out = ha2.on_sa_lookup(LookupResult(MN, REJECT, (), "s", "Access-Reject"), NOW)
    assert not [a for a in out if isinstance(a, A.SendUDP)] and not ha2.bindings_of(MN)
    assert any(isinstance(a, A.Log) and a.event == "aaa-lookup-failed" for a in out)
    assert ha2.counters["aaa.denied_requests"] == 1


def test_a_key_fetched_for_one_identity_cannot_register_another():
    ha = make_ha()
    # the attacker holds the key RADIUS has for NAI x@example.net (nai_hosts: MN2) and claims MN
    nai = NAIExtension("x@example.net")
    sa_x = SecurityAssociation("x@example.net", 256, KEY)
    out = ha.on_packet(packet(request(sa_x, home=MN, before=[nai])), NOW)
    assert [a.identity for a in lookups(out)] == ["x@example.net"]
    assert reply_of(ha.on_sa_lookup(accept("x@example.net"), NOW)).code == 131
    assert ha.counters["security.sa_not_for_home_address"] == 1 and not ha.bindings_of(MN)
    # and with its own address it registers
    assert reply_of(ha.on_packet(packet(request(sa_x, home=MN2, before=[nai])), NOW + 1)).code == 0


def test_a_file_sa_is_never_overridden_by_aaa():
    ha = make_ha(file_sas=[SecurityAssociation(MN, 300, KEY)])
    out = ha.on_packet(packet(request(SecurityAssociation(MN, 256, OTHER_KEY))), NOW)
    assert reply_of(out).code == 131 and not lookups(out)  # unknown SPI of a file peer: no lookup


def test_unknown_node_flood_is_bounded_by_pending_rate_and_negative_cache():
    ha = make_ha(pending_lookups=8, lookup_rate=5)
    asked = []
    for i in range(200):
        home = f"10.1.0.{i % 250 + 2}"
        asked += lookups(ha.on_packet(packet(request(SecurityAssociation(home, 256, KEY), home=home)), NOW))
    assert len(asked) == 5  # the rate's burst, under the pending limit
    for a in asked:
        ha.on_sa_lookup(LookupResult(a.identity, REJECT), NOW)
    again = lookups(
        ha.on_packet(packet(request(SecurityAssociation(asked[0].identity, 256, KEY), home=asked[0].identity)), NOW + 5)
    )
    assert not again and ha.counters["aaa.negative_cached"] == 1
    assert ha.aaa is not None and ha.aaa.pending() == 0


def test_unreachable_keeps_cached_nodes_and_refuses_uncached_with_one_log_line():
    ha = make_ha(cache_lifetime=100.0, refresh_margin=10.0)
    ha.on_packet(packet(request()), NOW)
    ha.on_sa_lookup(accept(MN), NOW)
    # near expiry: answered at once with the cached SA, and refreshed in the background
    out = ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 95)), source=FA), NOW + 95)
    assert reply_of(out).code == 0 and [a.refresh for a in lookups(out)] == [True]
    ha.on_sa_lookup(LookupResult(MN, UNREACHABLE, reason="no RADIUS server answered"), NOW + 96)
    assert (
        reply_of(ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 104))), NOW + 104)).code == 0
    )  # still served past 100 s
    # an uncached node: refused, one log line per interval
    logs = []
    for t in (0, 35, 45):  # lookups at 0 and 35 (negative cache: 30 s), none at 45
        out = ha.on_packet(
            packet(request(SecurityAssociation(MN2, 256, KEY), home=MN2, ident=ntp_timestamp(NOW + 200 + t))),
            NOW + 200 + t,
        )
        for asked in lookups(out):
            logs += [
                x
                for x in ha.on_sa_lookup(LookupResult(asked.identity, UNREACHABLE), NOW + 200 + t)
                if isinstance(x, A.Log)
            ]
    assert len(logs) == 1 and ha.counters["aaa.failure_log_suppressed"] == 1 and not ha.bindings_of(MN2)
    assert ha.counters["aaa.negative_cached"] == 1


def test_malformed_reply_refuses_and_drops_the_old_sa():
    ha = make_ha(cache_lifetime=100.0, refresh_margin=10.0)
    ha.on_packet(packet(request()), NOW)
    ha.on_sa_lookup(accept(MN), NOW)
    ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 95))), NOW + 95)
    out = ha.on_sa_lookup(LookupResult(MN, MALFORMED, reason="spi#0: 'key' is missing"), NOW + 95)
    assert [a.fields["reason"] for a in out if isinstance(a, A.Log)] == ["spi#0: 'key' is missing"]
    assert ha.aaa is not None and not ha.aaa.for_peer(MN)


def test_binding_mode_drops_the_sa_with_the_binding_and_drop_sas_forgets_it():
    ha = make_ha()
    ha.on_packet(packet(request()), NOW)
    ha.on_sa_lookup(accept(MN), NOW)
    assert ha.aaa is not None and ha.aaa.for_peer(MN)
    ha.on_packet(packet(request(lifetime=0, ident=ntp_timestamp(NOW + 1))), NOW + 1)  # deregistration
    assert not ha.aaa.for_peer(MN)
    ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 2))), NOW + 2)
    ha.on_sa_lookup(accept(MN), NOW + 2)
    assert ha.drop_sas(MN) == 1 and not ha.aaa.for_peer(MN)
    assert lookups(ha.on_packet(packet(request(ident=ntp_timestamp(NOW + 3))), NOW + 3))


def test_sweep_drops_expired_entries():
    ha = make_ha(cache_lifetime=20.0, refresh_margin=5.0)
    ha.on_packet(packet(request()), NOW)
    out = ha.on_sa_lookup(accept(MN), NOW)
    timer = [a for a in out if isinstance(a, A.ArmTimer) and a.key == SWEEP_TIMER]
    assert timer
    ha.on_timer(SWEEP_TIMER, timer[0].at)
    assert ha.aaa is not None and not ha.aaa.entries() and ha.counters["aaa.expired"] == 1


def test_a_reject_for_a_request_relayed_by_an_authenticated_foreign_agent_gets_131_with_its_fhae_only():
    """§3.8.2.1: with a valid FHAE the home agent MUST answer 131; without the node's SA there is no MHAE."""
    ha = make_ha(file_sas=[fa_sa()])
    ha.on_packet(packet(request(fa_sa=fa_sa())), NOW)
    out = ha.on_sa_lookup(LookupResult(MN, REJECT, (), "s", "Access-Reject"), NOW)
    reply = reply_of(out)
    assert reply.code == 131 and reply.find(MHAE) is None
    fhae = reply.find(FHAE)
    assert fhae is not None and verify(fa_sa(), reply.raw, fhae) is not None
    # a forged FHAE (the key of no foreign agent we know) earns nothing
    forged = SecurityAssociation(FA, 400, b"not-the-fa-ha-key")
    assert lookups(ha.on_packet(packet(request(fa_sa=forged, ident=ntp_timestamp(NOW + 60))), NOW + 60))
    assert not [a for a in ha.on_sa_lookup(LookupResult(MN, REJECT), NOW + 60) if isinstance(a, A.SendUDP)]


def test_no_answer_from_aaa_is_no_refusal_even_through_an_authenticated_foreign_agent():
    ha = make_ha(file_sas=[fa_sa()])
    assert lookups(ha.on_packet(packet(request(fa_sa=fa_sa())), NOW))
    out = ha.on_sa_lookup(LookupResult(MN, UNREACHABLE, (), None, "no RADIUS server answered"), NOW)
    assert not [a for a in out if isinstance(a, A.SendUDP)] and ha.counters["aaa.denied_requests"] == 1
