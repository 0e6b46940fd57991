"""A real `mipd run` home agent (signalling only) in a namespace made for the test, flooded from one
source address over real UDP: oversize datagrams are dropped as they are read, a forged-authenticator
flood gets at most the configured 131 replies per second and its log lines are summed up, random
bytes and a flood queued ahead of a legitimate request do not keep that node from registering with
code 0, and a source that registered successfully is not held by the per-source share. Counts and
outcomes only: nothing here measures time against a threshold."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest
import runtime_helpers as h
from mipd.protocol import codes
from mipd.security.replay import ntp_timestamp

pytestmark = pytest.mark.netns

ATTACKER = "192.0.2.66"
FORGED_KEY = bytes(16)


def start(netns: h.Netns, tmp_path, **limits: object) -> h.Mipd:
    for address in (h.HA_ADDRESS, h.COA, ATTACKER):
        h.ip("addr", "add", f"{address}/32", "dev", "lo", ns=netns.name)
    cfg = h.config()
    cfg["home_agent"]["advertisement"] = {"enabled": False}
    cfg["limits"] = limits
    return h.Mipd(netns, h.write(tmp_path, cfg)).start()


@pytest.fixture
def mipd_factory(netns, tmp_path):
    started: list[h.Mipd] = []

    def make(**limits: object) -> h.Mipd:
        started.append(start(netns, tmp_path, **limits))
        return started[-1]

    yield make
    for m in started:
        if m.proc is not None and m.proc.poll() is None:
            m.signal(signal.SIGCONT)
        m.stop()


def counters(mipd: h.Mipd) -> tuple[dict, dict]:
    c = mipd.ctl_json("counters")
    return c["roles"]["home_agent"], c["runtime"]


def forged(i: int) -> bytes:
    """The real node's home address and SPI, a wrong key: 131 (§3.8.2.1 a)."""
    return h.request(key=FORGED_KEY, ident=ntp_timestamp(time.time(), i & 0xFFFF))[0]


def drain(sock, seconds: float) -> list[bytes]:
    sock.settimeout(0.2)
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got.append(sock.recv(4096))
        except OSError:
            continue
    return got


def test_oversize_datagram_dropped_as_read_then_service_goes_on(mipd_factory, netns):
    mipd = mipd_factory()
    sock = h.udp_socket(netns.name)
    try:
        sock.sendto(h.request()[0] + bytes(65_507 - 46), (h.HA_ADDRESS, 434))
        sock.sendto(h.request()[0] + bytes(1024 - 46 + 1), (h.HA_ADDRESS, 434))  # one byte over the limit
        assert h.exchange(sock, h.request()[0]).code == codes.ACCEPTED
        assert drain(sock, 0.3) == []  # nothing answered the oversize ones
    finally:
        sock.close()
    role, runtime = counters(mipd)
    assert runtime["discard.oversize"] == 2 and role["accepted.registration"] == 1
    assert "discard.malformed" not in role


def test_forged_flood_gets_at_most_the_configured_replies_and_lines_while_a_node_registers(mipd_factory, netns):
    per_source, lines_per_source = 5, 2
    mipd = mipd_factory(denial_replies={"per_source": per_source, "total": 1000},
                        denial_log_lines={"per_source": lines_per_source, "total": 1000})
    attacker = h.udp_socket(netns.name, ATTACKER)
    node = h.udp_socket(netns.name)
    stop = threading.Event()
    sent = [0]

    def flood() -> None:
        while not stop.is_set():
            try:
                attacker.sendto(forged(sent[0]), (h.HA_ADDRESS, 434))
                sent[0] += 1
            except BlockingIOError:
                pass

    start_time = time.monotonic()
    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        time.sleep(0.3)
        reply = h.exchange(node, h.request()[0])
        time.sleep(0.3)
    finally:
        stop.set()
        flooder.join()
    elapsed = time.monotonic() - start_time
    try:
        replies = drain(attacker, 1.0)
        node_extra = drain(node, 0.1)
    finally:
        attacker.close()
        node.close()
    assert reply.code == codes.ACCEPTED and h.reply_verifies(reply) and node_extra == []
    assert all(r[1] == codes.HA_MN_AUTH for r in replies)
    assert 1 <= len(replies) <= per_source + per_source * elapsed, (len(replies), sent[0], elapsed)
    time.sleep(1.5)  # the summary of the lines left out is written a second after the first of them
    role, _runtime = counters(mipd)
    log = mipd.log_text()
    denial_lines = re.findall(r"registration-denied node=", log)
    summaries = [int(n) for n in re.findall(r"registration-denied-repeated source=192\.0\.2\.66 count=(\d+)", log)]
    assert len(denial_lines) <= lines_per_source + lines_per_source * elapsed
    assert summaries and len(denial_lines) + sum(summaries) == role["denied.131"]
    assert role["denial.reply_suppressed"] == role["denied.131"] - len(replies)
    assert role["denied.131"] > 10 * len(replies)  # the flood was processed, not just lost in the kernel
    assert h.KEY_HEX not in log


def test_random_bytes_flood_does_not_keep_a_node_from_registering(mipd_factory, netns):
    mipd = mipd_factory()
    attacker = h.udp_socket(netns.name, ATTACKER)
    node = h.udp_socket(netns.name)
    stop = threading.Event()

    def flood() -> None:
        payloads = [os.urandom(n) for n in (1, 24, 60, 300, 1000) for _ in range(20)]
        i = 0
        while not stop.is_set():
            try:
                attacker.sendto(payloads[i % len(payloads)], (h.HA_ADDRESS, 434))
            except BlockingIOError:
                pass
            i += 1

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        time.sleep(0.2)
        codes_seen = []
        for k in range(3):
            data, _ident = h.request(ident=ntp_timestamp(time.time(), k))
            codes_seen.append(h.exchange(node, data).code)
    finally:
        stop.set()
        flooder.join()
        attacker.close()
        node.close()
    assert codes_seen == [codes.ACCEPTED] * 3
    role, runtime = counters(mipd)
    dropped = sum(runtime.get(k, 0) for k in ("discard.source_over_rate",)) + sum(
        v for k, v in role.items() if k.startswith("discard."))
    assert dropped > 100 and role["accepted.registration"] == 3


def test_flood_queued_ahead_of_a_node_is_cut_to_the_source_share_then_dropped_by_the_kernel(mipd_factory, netns):
    """The daemon is stopped while 3,000 forged requests from one source and one real request are
    queued: once it runs, it has a backlog, the flooder gets `source_rate` (plus a burst of as many)
    processed, the rest are dropped before decoding, and the node's request is answered. Having
    sent twice its share within a second, the source is then dropped by the kernel (a socket
    filter) for `source_block_time` seconds: what it sends meanwhile never reaches the daemon;
    afterwards it does again."""
    mipd = mipd_factory(source_rate=50, source_block_time=2)
    attacker = h.udp_socket(netns.name, ATTACKER)
    node = h.udp_socket(netns.name)
    mipd.signal(signal.SIGSTOP)
    try:
        for i in range(1500):
            attacker.sendto(forged(i), (h.HA_ADDRESS, 434))
        data, ident = h.request()
        node.sendto(data, (h.HA_ADDRESS, 434))
        for i in range(1500, 3000):
            attacker.sendto(forged(i), (h.HA_ADDRESS, 434))
    finally:
        mipd.signal(signal.SIGCONT)
    try:
        node.settimeout(5.0)
        reply = h.reg.decode(node.recv(4096))
        assert reply.code == codes.ACCEPTED and reply.identification == ident
        role, runtime = counters(mipd)
        assert runtime["discard.source_over_rate"] > 2000 and runtime["source.blocked"] == 1
        assert role["denied.131"] + runtime["discard.source_over_rate"] <= 3000
        assert f"source {ATTACKER} sent over twice its share" in mipd.log_text()
        for i in range(200):  # blocked: the kernel drops these before the daemon sees them
            attacker.sendto(forged(3000 + i), (h.HA_ADDRESS, 434))
        assert h.exchange(node, h.request(ident=ntp_timestamp(time.time() + 1))[0]).code == codes.ACCEPTED
        role2, runtime2 = counters(mipd)
        assert role2["denied.131"] == role["denied.131"]
        assert runtime2["discard.source_over_rate"] == runtime["discard.source_over_rate"]
        assert runtime2["rx.udp"] == runtime["rx.udp"] + 1  # the node's request alone
        time.sleep(2.5)  # the block ends
        drain(attacker, 0.2)  # the denials it got before
        attacker.sendto(forged(4000), (h.HA_ADDRESS, 434))
        attacker.settimeout(3.0)
        assert attacker.recv(4096)[1] == codes.HA_MN_AUTH  # heard (and denied) again
        assert counters(mipd)[0]["denied.131"] == role["denied.131"] + 1
    finally:
        attacker.close()
        node.close()


def test_a_source_that_registered_is_not_held_by_the_share(mipd_factory, netns):
    """A foreign agent (one source) relaying many requests after a success is served in full even with a backlog."""
    mipd = mipd_factory(source_rate=10)
    node = h.udp_socket(netns.name)
    node.setsockopt(h.socket.SOL_SOCKET, h.socket.SO_RCVBUF, 4 << 20)  # room for the 500 replies
    try:
        assert h.exchange(node, h.request()[0]).code == codes.ACCEPTED  # trusted from now on
        mipd.signal(signal.SIGSTOP)
        now = time.time()
        try:
            for i in range(500):
                node.sendto(h.request(ident=ntp_timestamp(now + 1 + i * 0.001))[0], (h.HA_ADDRESS, 434))
        finally:
            mipd.signal(signal.SIGCONT)
        got = drain(node, 2.0)
    finally:
        node.close()
    role, runtime = counters(mipd)
    assert runtime.get("discard.source_over_rate", 0) == 0 and role["accepted.registration"] == 501
    assert len(got) == 500 and all(r[1] == codes.ACCEPTED for r in got)
