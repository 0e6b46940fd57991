"""The foreign agent's FA-HA SAs from an AAA server (protocol/aaa.py; RFC 5944 §3.7.2.2, §3.7.3.1), sans-IO.

A request to a home agent the keys file has no SA with waits for a LookupSA of that home agent; the SA
that comes back signs the relayed request (FHAE) and checks the home agent's reply; it serves that home
agent only. With no SA at all (refused, malformed, unreachable, negative cache) the request goes without
FHAE (the home agent decides), or, with require_fa_ha_auth, is refused with 65, logged once per home agent;
a cached SA keeps serving while the server is unreachable; the keys file's SA wins over AAA; a flood of
requests shares one lookup."""

from __future__ import annotations

import random

import fa_helpers as f
from mipd.protocol import codes
from mipd.protocol.aaa import ACCEPT, MALFORMED, REJECT, UNREACHABLE, AaaSettings, LookupResult, LookupSA
from mipd.protocol.actions import Log, SendUDP
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.security import SecurityAssociation, SecurityAssociations
from mipd.wire import registration as reg
from mipd.wire.extensions import FHAE

OTHER_HA = "10.9.9.1"


def agent(*sas: SecurityAssociation, **config: bool) -> ForeignAgent:
    return ForeignAgent(f.config(**config), SecurityAssociations(list(sas)), random.Random(7), aaa=AaaSettings())


def fhae_spis(send: SendUDP) -> list[int]:
    return [e.spi for e in reg.decode(send.payload).extensions if e.type == FHAE]


def test_the_request_waits_for_the_home_agents_sa_then_goes_with_its_fhae() -> None:
    fa = agent()
    actions = fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    assert [a.identity for a in f.of_type(actions, LookupSA)] == [f.HA] and not f.of_type(actions, SendUDP)
    again = fa.on_packet(f.from_mn(f.request_bytes()), f.NOW + 0.5)  # a retransmission shares the lookup
    assert not f.of_type(again, LookupSA) and fa.counters["aaa.lookup_shared"] == 1
    relayed = fa.on_sa_lookup(LookupResult(f.HA, ACCEPT, (f.FA_HA,), "radius1"), f.NOW + 1)
    sends = f.of_type(relayed, SendUDP)
    assert len(sends) == 2 and all(fhae_spis(s) == [f.FA_HA.spi] for s in sends)
    reply = fa.on_packet(f.from_ha(f.reply_bytes(fhae=f.FA_HA)), f.NOW + 2)  # §3.7.3.1: checked with it
    assert f.decoded_reply(reply).code == 0 and len(fa.visitors()) == 1


def test_a_reply_without_the_fhae_is_refused_once_the_sa_is_fetched() -> None:
    fa = agent()
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    fa.on_sa_lookup(LookupResult(f.HA, ACCEPT, (f.FA_HA,), "radius1"), f.NOW + 1)
    reply = fa.on_packet(f.from_ha(f.reply_bytes()), f.NOW + 2)
    assert f.denial_code(reply) == 68 and fa.counters["security.ha_auth_failed"] == 1


def test_an_sa_fetched_for_one_home_agent_does_not_serve_another() -> None:
    fa = agent()
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    fa.on_sa_lookup(LookupResult(f.HA, ACCEPT, (f.FA_HA,), "radius1"), f.NOW + 1)
    actions = fa.on_packet(f.from_mn(f.request_bytes(ha=OTHER_HA, ident=f.ID + 1)), f.NOW + 2)
    assert [a.identity for a in f.of_type(actions, LookupSA)] == [OTHER_HA] and not f.of_type(actions, SendUDP)


def test_with_no_sa_at_all_the_request_goes_without_fhae_unless_required() -> None:
    for outcome in (REJECT, MALFORMED, UNREACHABLE):  # the home agent decides (§3.8.2.1 c)
        fa = agent()
        fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
        (send,) = f.of_type(fa.on_sa_lookup(LookupResult(f.HA, outcome, (), "radius1", "why"), f.NOW + 1), SendUDP)
        assert send.dest == f.HA and fhae_spis(send) == [] and fa.counters["relayed.without_fhae"] == 1
        again = fa.on_packet(f.from_mn(f.request_bytes(ident=f.ID + 1)), f.NOW + 2)  # negative cache: no lookup
        assert not f.of_type(again, LookupSA) and fhae_spis(f.sent_udp(again)) == []


def test_required_fa_ha_auth_refuses_with_65_counted_and_logged_once_per_home_agent() -> None:
    fa = agent(require_fa_ha_auth=True)
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    out = fa.on_sa_lookup(LookupResult(f.HA, UNREACHABLE, (), "radius1", "no answer"), f.NOW + 1)
    assert f.denial_code(out) == codes.FA_PROHIBITED  # §3.7.2.3: to the node, nothing to the home agent
    other_node = f.request_bytes(home="10.1.1.11", ident=f.ID + 1)  # within the negative lifetime: no lookup
    out += fa.on_packet(f.from_mn(other_node), f.NOW + 2)
    assert not f.of_type(out, LookupSA) and [s.dest for s in f.of_type(out, SendUDP)] == [f.HOME, "10.1.1.11"]
    assert fa.counters["refused.no_fa_ha_sa"] == 2 and fa.counters["denied.65"] == 2
    lines = [a.event for a in f.of_type(out, Log)]
    assert lines.count("fa-ha-sa-missing") == 1 and "registration-denied" not in lines
    assert lines.count("aaa-lookup-failed") == 1  # also once per home agent and interval
    (failed,) = [a for a in f.of_type(out, Log) if a.event == "aaa-lookup-failed"]
    assert failed.fields["home_agent"] == f.HA


def test_required_fa_ha_auth_without_an_aaa_server_refuses_too_and_deregistrations_still_go() -> None:
    fa = f.agent(require_fa_ha_auth=True)
    assert f.denial_code(fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)) == codes.FA_PROHIBITED
    dereg = fa.on_packet(f.from_mn(f.request_bytes(lifetime=0, ident=f.ID + 1)), f.NOW + 2)
    assert f.sent_udp(dereg).dest == f.HA  # nothing is set up for it: the home agent decides


def test_a_cached_sa_keeps_serving_while_the_server_is_unreachable() -> None:
    fa = ForeignAgent(f.config(require_fa_ha_auth=True), SecurityAssociations([]), random.Random(7),
                      aaa=AaaSettings(cache_lifetime=100.0, refresh_margin=60.0))
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    fa.on_sa_lookup(LookupResult(f.HA, ACCEPT, (f.FA_HA,), "radius1"), f.NOW + 1)
    accepted = fa.on_packet(f.from_ha(f.reply_bytes(fhae=f.FA_HA)), f.NOW + 50)  # used near expiry: refresh
    assert [a.identity for a in f.of_type(accepted, LookupSA)] == [f.HA]
    fa.on_sa_lookup(LookupResult(f.HA, UNREACHABLE, (), "radius1", "no answer"), f.NOW + 51)
    out = fa.on_packet(f.from_mn(f.request_bytes(ident=f.ID + 1)), f.NOW + 52)
    assert fhae_spis(f.sent_udp(out)) == [f.FA_HA.spi] and fa.counters["refused.no_fa_ha_sa"] == 0


def test_an_sa_fetched_for_one_home_agent_does_not_verify_anothers_reply() -> None:
    other_sa = SecurityAssociation(OTHER_HA, f.FA_HA.spi, b"another-ha-key!!")  # same SPI, its own key
    fa = agent()
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    fa.on_sa_lookup(LookupResult(f.HA, ACCEPT, (f.FA_HA,), "radius1"), f.NOW + 1)
    fa.on_packet(f.from_mn(f.request_bytes(home="10.1.1.11", ha=OTHER_HA, ident=f.ID + 1)), f.NOW + 2)
    (send,) = f.of_type(fa.on_sa_lookup(LookupResult(OTHER_HA, ACCEPT, (other_sa,), "radius1"), f.NOW + 3), SendUDP)
    assert fhae_spis(send) == [other_sa.spi]
    forged = f.reply_bytes(home="10.1.1.11", ha=OTHER_HA, ident=f.ID + 1, fhae=f.FA_HA)  # signed with HA's key
    out = fa.on_packet(f.from_ha(forged, source=OTHER_HA), f.NOW + 4)
    assert f.denial_code(out) == codes.FA_HA_AUTH and fa.counters["security.ha_auth_failed"] == 1


def test_the_keys_files_sa_wins_and_needs_no_lookup() -> None:
    fa = agent(f.FA_HA)
    actions = fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    assert not f.of_type(actions, LookupSA) and fhae_spis(f.sent_udp(actions)) == [f.FA_HA.spi]
