"""A failed commit is undone (issue 9, full disk): the home agent puts back the bindings, expiry
entries and replay state of the registrations since the last commit, with the data-plane actions
that takes, and answers them 130 (RFC 5944 §3.4 insufficient resources); the foreign agent puts
back its visitors and tells the nodes 66 instead of the acceptance it relayed. Sans-IO: the
runtime calls `committed()` after a successful commit and `on_commit_failed(now)` after a failed one."""

from __future__ import annotations

import fa_helpers as F
from mipd.protocol import actions as A
from mipd.protocol import codes
from mipd.protocol.foreign_agent import VISITOR_TIMER
from mipd.protocol.home_agent import EXPIRY_TIMER
from mipd.security import verify
from mipd.security.replay import ntp_timestamp
from mipd.simnet import DataplaneState
from mipd.wire import registration as reg
from test_home_agent import FA, FA2, MN, MN2, NOW, make_ha, mn_sa, packet, request


def journaled_ha(**cfg):
    ha = make_ha([mn_sa(), mn_sa(MN2)], **cfg)
    ha.track_commits()
    return ha


def run(ha, dp: DataplaneState, data: bytes, now: float = NOW, source: str = FA) -> list:
    out = ha.on_packet(packet(data, source=source), now)
    for a in out:
        dp.apply(a)
    return out


def replies(actions: list) -> list[reg.RegistrationReply]:
    return [reg.decode_reply(a.payload) for a in actions if isinstance(a, A.SendUDP)]


def snapshot(ha, dp: DataplaneState) -> tuple:
    return (sorted((b.home_address, b.care_of_address, b.expires, b.identification) for b in ha.bindings()),
            dict(dp.tunnels), {k: list(v) for k, v in dp.tunnel_routes.items()}, set(dp.proxy_arp))


def fail(ha, dp: DataplaneState, now: float = NOW) -> list:
    out = ha.on_commit_failed(now)
    for a in out:
        assert not isinstance(a, (A.StoreRecord, A.DeleteRecord)), "undoing writes no record"
        dp.apply(a)
    return out


def test_new_moved_renewed_and_deregistered_bindings_are_all_put_back_with_130():
    ha, dp = journaled_ha(), DataplaneState()
    first = request(ident=ntp_timestamp(NOW))
    run(ha, dp, first)
    run(ha, dp, request(mn_sa(MN2), home=MN2, ident=ntp_timestamp(NOW)))
    ha.committed()
    before = snapshot(ha, dp)

    t = NOW + 10
    batch = [
        request(coa=FA2, ident=ntp_timestamp(t)),  # MN moves
        request(mn_sa(MN2), home=MN2, lifetime=0, ident=ntp_timestamp(t)),  # MN2 deregisters
    ]
    for data in batch:
        assert replies(run(ha, dp, data, t, FA))[0].code == codes.ACCEPTED
    assert snapshot(ha, dp) != before
    out = fail(ha, dp, t)
    assert snapshot(ha, dp) == before  # bindings, expiries, tunnels, routes as they were
    answers = replies(out)
    assert [r.code for r in answers] == [codes.HA_RESOURCES] * 2
    assert [r.home_address for r in answers] == [MN, MN2]
    assert all(verify(mn_sa(r.home_address), r.raw, r.extensions[-1]) for r in answers)
    assert ha.counters["rolled_back.registration"] == 2 and ha.counters["denied.130"] == 2
    # the replay state too: a newer request is accepted, the first one still refused as a replay
    assert replies(run(ha, dp, request(coa=FA2, ident=ntp_timestamp(t + 1)), t + 1))[0].code == codes.ACCEPTED
    assert replies(run(ha, dp, first, t + 1))[0].code == codes.HA_ID_MISMATCH


def test_a_new_node_is_forgotten_and_its_request_is_not_a_replay_afterwards():
    ha, dp = journaled_ha(), DataplaneState()
    data = request(ident=ntp_timestamp(NOW))
    run(ha, dp, data)
    out = fail(ha, dp)
    assert ha.bindings() == [] and dp.tunnels == {} and dp.tunnel_routes == {}
    [answer] = replies(out)
    assert answer.code == codes.HA_RESOURCES and answer.identification == reg.decode(data).identification
    # never accepted, so the node's retransmission of the same request is accepted now
    assert replies(run(ha, dp, data, NOW + 1))[0].code == codes.ACCEPTED


def test_a_renewal_keeps_its_original_expiry_which_still_fires():
    ha, dp = journaled_ha(), DataplaneState()
    run(ha, dp, request(lifetime=100, ident=ntp_timestamp(NOW)))
    ha.committed()
    run(ha, dp, request(lifetime=600, ident=ntp_timestamp(NOW + 50)), NOW + 50)
    fail(ha, dp, NOW + 50)
    [b] = ha.bindings()
    assert b.expires == NOW + 100
    expired = ha.on_timer(EXPIRY_TIMER, NOW + 100)
    assert ha.bindings() == [] and any(isinstance(a, A.RemoveTunnel) for a in expired)


def test_committed_registrations_are_kept():
    ha, dp = journaled_ha(), DataplaneState()
    run(ha, dp, request(ident=ntp_timestamp(NOW)))
    ha.committed()
    assert ha.on_commit_failed(NOW) == [] and len(ha.bindings()) == 1


def test_denials_are_not_undone_or_answered_twice():
    ha, dp = journaled_ha(), DataplaneState()
    run(ha, dp, request(ident=ntp_timestamp(NOW), ha="10.1.0.99"))  # 136, changes nothing
    assert ha.on_commit_failed(NOW) == []


def test_without_tracking_nothing_is_remembered():
    ha = make_ha()
    for i in range(3):
        ha.on_packet(packet(request(ident=ntp_timestamp(NOW + i))), NOW + i)
    assert ha.on_commit_failed(NOW + 3) == [] and len(ha.bindings()) == 1


# ---------------------------------------------------------------- foreign agent


def journaled_fa():
    fa = F.agent(F.FA_HA)
    fa.start(F.NOW)
    fa.track_commits()
    return fa


def test_foreign_agent_undoes_a_relayed_acceptance_and_tells_the_node_66():
    fa, dp = journaled_fa(), DataplaneState()
    F.relay(fa, F.request_bytes())
    accepted = fa.on_packet(F.from_ha(F.reply_bytes(fhae=F.FA_HA)), F.NOW + 0.1)
    for a in accepted:
        dp.apply(a)
    assert len(fa.visitors()) == 1 and dp.tunnels
    out = fa.on_commit_failed(F.NOW + 0.1)
    for a in out:
        assert not isinstance(a, (A.StoreRecord, A.DeleteRecord))
        dp.apply(a)
    assert fa.visitors() == [] and dp.tunnels == {} and dp.host_routes == {}
    assert F.denial_code(out) == codes.FA_RESOURCES
    assert A.CancelTimer((VISITOR_TIMER, F.HOME)) in out
    assert fa.counters["rolled_back.registration"] == 1


def test_foreign_agent_keeps_committed_visitors():
    fa = journaled_fa()
    F.relay(fa, F.request_bytes())
    fa.on_packet(F.from_ha(F.reply_bytes(fhae=F.FA_HA)), F.NOW + 0.1)
    fa.committed()
    assert fa.on_commit_failed(F.NOW + 1) == [] and len(fa.visitors()) == 1


def test_foreign_agent_puts_back_the_visitor_a_renewal_changed():
    fa = journaled_fa()
    F.relay(fa, F.request_bytes())
    fa.on_packet(F.from_ha(F.reply_bytes(fhae=F.FA_HA)), F.NOW + 0.1)
    fa.committed()
    [before] = fa.visitors(F.NOW + 1)
    later = F.NOW + 100
    F.relay(fa, F.request_bytes(ident=F.ID + 1), later)
    fa.on_packet(F.from_ha(F.reply_bytes(lifetime=300, ident=F.ID + 1, fhae=F.FA_HA)), later)
    out = fa.on_commit_failed(later)
    assert fa.visitors(F.NOW + 1) == [before]
    assert A.ArmTimer((VISITOR_TIMER, F.HOME), F.NOW + 0.1 + 600) in out
    assert not any(isinstance(a, (A.AddTunnel, A.RemoveTunnel)) for a in out)  # same tunnel throughout
