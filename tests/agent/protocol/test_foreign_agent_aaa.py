"""The foreign agent's FA-HA SAs from an AAA server (protocol/aaa.py; RFC 5944 §3.7.2.2, §3.7.3.1), sans-IO.

A request to a home agent the keys file has no SA with waits for a LookupSA of that home agent; the SA
that comes back signs the relayed request (FHAE) and checks the home agent's reply; it serves that home
agent only. A refusal relays without FHAE (the home agent decides); an unreachable server drops the
request (the node retransmits); the keys file's SA wins over AAA; a flood of requests shares one lookup."""

from __future__ import annotations

import random

import fa_helpers as f
from mipd.protocol.aaa import ACCEPT, REJECT, UNREACHABLE, AaaSettings, LookupResult, LookupSA
from mipd.protocol.actions import SendUDP
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.security import SecurityAssociation, SecurityAssociations
from mipd.wire import registration as reg
from mipd.wire.extensions import FHAE

OTHER_HA = "10.9.9.1"


def agent(*sas: SecurityAssociation) -> ForeignAgent:
    return ForeignAgent(f.config(), SecurityAssociations(list(sas)), random.Random(7), aaa=AaaSettings())


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


def test_a_refusal_relays_without_fhae_and_an_unreachable_server_drops() -> None:
    fa = agent()
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    (send,) = f.of_type(fa.on_sa_lookup(LookupResult(f.HA, REJECT, (), "radius1", "Access-Reject"), f.NOW + 1),
                        SendUDP)
    assert fhae_spis(send) == []  # the home agent decides (§3.8.2.1 c)
    fa = agent()
    fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    assert not f.of_type(fa.on_sa_lookup(LookupResult(f.HA, UNREACHABLE), f.NOW + 1), SendUDP)


def test_the_keys_files_sa_wins_and_needs_no_lookup() -> None:
    fa = agent(f.FA_HA)
    actions = fa.on_packet(f.from_mn(f.request_bytes()), f.NOW)
    assert not f.of_type(actions, LookupSA) and fhae_spis(f.sent_udp(actions)) == [f.FA_HA.spi]
