"""Token buckets and the denial gate (mipd.protocol.ratelimit), with explicit times: no clock is read."""

from __future__ import annotations

from collections import Counter

from mipd.protocol import actions as A
from mipd.protocol.config import Limits
from mipd.protocol.ratelimit import (
    SUMMARY_INTERVAL,
    SUMMARY_SOURCES,
    DenialGate,
    OncePerInterval,
    SourceLimiter,
    TokenBucket,
)

T0 = 1_000.0


def test_token_bucket_burst_then_rate():
    bucket = TokenBucket(rate=2.0, burst=3.0, now=T0)
    assert [bucket.take(T0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(T0 + 0.25) is False  # half a token
    assert bucket.take(T0 + 0.5) is True  # one token after 1/rate
    assert bucket.take(T0 + 0.5) is False
    assert [bucket.take(T0 + 100) for _ in range(4)] == [True, True, True, False]  # refilled to the burst only


def test_token_bucket_ignores_time_going_backwards():
    bucket = TokenBucket(rate=1.0, burst=1.0, now=T0)
    assert bucket.take(T0)
    assert not bucket.take(T0 - 50)  # a clock step back adds nothing
    assert not bucket.take(T0 + 0.5)
    assert bucket.take(T0 + 1.0)


def test_rate_zero_is_no_limit():
    bucket = TokenBucket(0.0, 0.0, T0)
    assert all(bucket.take(T0) for _ in range(1000))
    limiter = SourceLimiter(per_source=0.0, total=0.0, now=T0)
    assert all(limiter.allow("192.0.2.1", T0) for _ in range(1000)) and len(limiter) == 0


def test_source_limiter_per_source_and_total():
    limiter = SourceLimiter(per_source=2.0, total=5.0, now=T0)
    assert [limiter.allow("a", T0) for _ in range(3)] == [True, True, False]
    assert [limiter.allow("b", T0) for _ in range(3)] == [True, True, False]
    assert limiter.allow("c", T0) and not limiter.allow("d", T0)  # the total (5) is spent
    assert limiter.allow("d", T0 + 0.2)  # one total token back after 1/5 s; d's own bucket is full
    assert not limiter.allow("a", T0 + 0.2)  # a's bucket: 0.4 tokens
    assert limiter.allow("a", T0 + 0.6)


def test_a_refused_source_does_not_spend_the_total():
    limiter = SourceLimiter(per_source=1.0, total=2.0, now=T0)
    assert limiter.allow("flood", T0)
    assert not any(limiter.allow("flood", T0) for _ in range(100))
    assert limiter.allow("node", T0)  # the flooder's refusals left the second total token


def test_source_table_is_bounded_and_forgets_idle_sources():
    limiter = SourceLimiter(per_source=1.0, total=0.0, now=T0, max_sources=4)
    for i in range(4):
        assert limiter.allow(f"s{i}", T0)
    assert limiter.allow("new", T0) and len(limiter) == 4  # full, none idle: held by the total alone
    assert limiter.allow("new", T0 + 0.5) and len(limiter) == 4  # pruning at most once a second
    assert limiter.allow("late", T0 + 2.0)  # the idle ones (full buckets) are forgotten
    assert len(limiter) == 1


def gate(**limits: float) -> tuple[DenialGate, Counter[str]]:
    counters: Counter[str] = Counter()
    return DenialGate(Limits(**limits), counters, "summary-timer"), counters  # type: ignore[arg-type]


def test_gate_limits_replies_and_lines_per_source():
    g, counters = gate(denial_replies_per_source=3, denial_logs_per_source=1, denial_replies_total=100,
                       denial_logs_total=100)
    verdicts = [g.admit("192.0.2.66", T0) for _ in range(5)]
    assert [v[0] for v in verdicts] == [True, True, True, False, False]
    assert [v[1] for v in verdicts] == [True, False, False, False, False]
    assert verdicts[1][2] == (A.ArmTimer("summary-timer", T0 + SUMMARY_INTERVAL),)  # armed once
    assert all(v[2] == () for v in verdicts[2:])
    assert counters == Counter({"denial.reply_suppressed": 2, "denial.log_suppressed": 4})
    assert g.admit("192.0.2.7", T0)[:2] == (True, True)  # another source is not held by the first one


def test_gate_summary_names_the_source_and_the_count_then_resets():
    g, _ = gate(denial_logs_per_source=1)
    for _ in range(101):
        g.admit("192.0.2.66", T0)
    [line] = g.flush(T0 + 1)
    assert isinstance(line, A.Log) and line.event == "registration-denied-repeated" and line.level == "warning"
    assert line.fields["source"] == "192.0.2.66" and line.fields["count"] == 100
    assert "100 more like this from 192.0.2.66" in line.fields["reason"]
    assert g.flush(T0 + 2) == []
    assert g.admit("192.0.2.66", T0 + 1.0)[1] is True  # a token again a second later


def test_gate_summary_is_bounded_with_many_sources():
    g, _ = gate(denial_logs_per_source=1, denial_logs_total=1)
    for i in range(500):
        g.admit(f"10.9.{i // 256}.{i % 256}", T0)
    lines = g.flush(T0 + 1)
    assert len(lines) == SUMMARY_SOURCES + 1
    assert sum(line.fields["count"] for line in lines) == 499
    assert lines[-1].fields["source"] == "other" and lines[-1].fields["sources"] == 499 - SUMMARY_SOURCES


def test_gate_reply_not_wanted_spends_no_reply_token():
    g, counters = gate(denial_replies_per_source=1)
    assert g.admit("a", T0, reply=False)[0] is False
    assert g.admit("a", T0)[0] is True
    assert counters["denial.reply_suppressed"] == 0


def test_gate_configure_applies_new_rates():
    g, _ = gate(denial_replies_per_source=1)
    g.admit("a", T0)
    assert not g.admit("a", T0)[0]
    g.configure(Limits(denial_replies_per_source=5), T0)
    assert all(g.admit("a", T0)[0] for _ in range(5))


def test_once_per_interval_per_key_with_bounded_memory() -> None:
    gate = OncePerInterval(60.0, max_keys=2)
    assert gate.due("10.1.0.1", 0.0) and not gate.due("10.1.0.1", 59.0) and gate.due("10.1.0.1", 60.0)
    assert gate.due("10.1.0.2", 61.0)
    assert not gate.due("10.1.0.3", 62.0)  # memory full, nothing expired: left out, not remembered
    assert gate.due("10.1.0.3", 121.0)  # the first key expired and is forgotten
