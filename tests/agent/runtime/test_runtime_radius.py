"""A real `mipd run` home agent (signalling only) fetching SAs from a real FreeRADIUS, both in a network
namespace made for the test (FreeRADIUS on that namespace's loopback: tests/radius_server.py).

First registration fetches the SA (code 0); a wrong key in RADIUS gives 131; RADIUS stopped: cached
nodes re-register, uncached ones get no binding, nodes with keys-file SAs are unaffected; failover
to a second server; spoofed replies (wrong secret, no Message-Authenticator) are ignored and
counted; a key held for identity X cannot register Y; a flood of unknown identities makes a
bounded number of RADIUS requests; keys and secrets never reach the log or mipctl output.
"""

from __future__ import annotations

import os
import secrets
import time

import pytest
import radius_server
import runtime_helpers as h
from mipd.protocol import codes
from mipd.runtime import control
from mipd.security.replay import ntp_timestamp
from mipd.wire.extensions import NAIExtension

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not radius_server.available(), reason="needs freeradius, root")]

RADIUS_KEY = "72616469757320686f6c647320746869"  # distinctive, so a leak is easy to spot
NODE = "10.1.0.20"  # known to RADIUS only
PORTS = (18121, 18122)


@pytest.fixture
def lab(netns, tmp_path):
    """Addresses on the namespace's loopback, two FreeRADIUS configurations (not started), a mipd factory."""
    for address in (h.HA_ADDRESS, h.COA, "127.0.0.2"):
        h.ip("addr", "add", f"{address}/32", "dev", "lo", ns=netns.name)
    secret = secrets.token_hex(16)
    servers = [
        radius_server.RadiusServer(tmp_path / f"radius{i}", port=port, address=address, secret=secret, netns=netns.name)
        for i, (port, address) in enumerate(zip(PORTS, ("127.0.0.1", "127.0.0.2"), strict=True))
    ]
    for server in servers:
        server.add_sa(NODE, 300, RADIUS_KEY)
    started: list[h.Mipd] = []

    def mipd(radius: dict | None = None, mipd_secret: str = secret) -> h.Mipd:
        cfg = h.config()
        cfg["home_agent"]["advertisement"] = {"enabled": False}
        cfg["radius"] = {
            "servers": [{"address": "127.0.0.1", "port": PORTS[0]}, {"address": "127.0.0.2", "port": PORTS[1]}],
            "timeout": 0.3,
            "retries": 1,
            **(radius or {}),
        }
        keys = dict(h.BASE_KEYS, radius_secrets={"127.0.0.1": mipd_secret, f"127.0.0.2:{PORTS[1]}": mipd_secret})
        started.append(h.Mipd(netns, h.write(tmp_path / f"mipd{len(started)}", cfg, keys)).start())
        return started[-1]

    yield servers, mipd
    for m in started:
        m.stop()
    for server in servers:
        server.stop()


def register(ns: h.Netns, home: str = NODE, key_hex: str = RADIUS_KEY, spi: int = 300, retries: int = 6, **kw):
    """Send the request until a reply comes (the first one may wait for RADIUS); the reply, or None."""
    sock = h.udp_socket(ns.name)
    sock.settimeout(1.0)
    try:
        data, _ident = h.request(home=home, key=bytes.fromhex(key_hex), spi=spi, **kw)
        for _ in range(retries):
            sock.sendto(data, (h.HA_ADDRESS, 434))
            try:
                return h.reg.decode(sock.recvfrom(4096)[0])
            except TimeoutError:
                continue
        return None
    finally:
        sock.close()


def counters(mipd: h.Mipd) -> tuple[dict, dict]:
    c = mipd.ctl_json("counters")
    return c["roles"]["home_agent"], c["runtime"]


def test_first_registration_fetches_the_sa_and_mipctl_shows_its_source(lab, netns):
    servers, mipd = lab
    servers[0].start()
    ha = mipd()
    reply = register(netns)
    assert reply is not None and reply.code == codes.ACCEPTED
    assert h.reply_verifies(reply, NODE, bytes.fromhex(RADIUS_KEY), 300)
    fetched = [sa for sa in ha.ctl_json("sas") if sa["source"] == "radius"]
    assert [(sa["peer"], sa["spi"], sa["server"]) for sa in fetched] == [(NODE, 300, f"127.0.0.1:{PORTS[0]}")]
    assert fetched[0]["key_fingerprint"].startswith("sha256:") and fetched[0]["fetched_at"]
    role, runtime = counters(ha)
    assert role["aaa.lookup"] == 1 and runtime["radius.accept"] == 1
    # the keys-file node is served as before, without RADIUS
    assert register(netns, h.HOME, h.KEY_HEX, h.SPI).code == codes.ACCEPTED
    assert counters(ha)[0]["aaa.lookup"] == 1


def test_wrong_key_in_radius_gives_131_and_drop_sas_applies_a_fixed_one(lab, netns):
    servers, mipd = lab
    servers[0].clear()
    servers[0].add_sa(NODE, 300, "00" * 16)
    servers[0].start()
    ha = mipd()
    assert register(netns).code == codes.HA_MN_AUTH
    servers[0].clear()
    servers[0].add_sa(NODE, 300, RADIUS_KEY)
    servers[0].restart()
    assert register(netns, ident=ntp_timestamp(time.time() + 1)).code == codes.HA_MN_AUTH  # still the cached one
    drop = ha.ctl("drop-sas", NODE)
    assert drop.returncode == 0 and "1 node" in drop.stdout
    assert register(netns, ident=ntp_timestamp(time.time() + 2)).code == codes.ACCEPTED
    assert ha.ctl("drop-sas").returncode == 2  # a NODE or --all is required
    assert ha.ctl("drop-sas", "--all").returncode == 0


def test_radius_stopped_cached_nodes_reregister_uncached_get_nothing_others_unaffected(lab, netns):
    servers, mipd = lab
    servers[0].add_sa("10.1.0.21", 300, RADIUS_KEY)
    servers[0].start()
    ha = mipd()
    assert register(netns).code == codes.ACCEPTED
    servers[0].stop()
    assert register(netns, ident=ntp_timestamp(time.time() + 1)).code == codes.ACCEPTED  # cached
    assert register(netns, "10.1.0.21", retries=3) is None  # uncached: no reply, no binding
    assert register(netns, h.HOME, h.KEY_HEX, h.SPI).code == codes.ACCEPTED  # keys-file node
    bound = {b["home_address"] for b in ha.ctl_json("bindings")}
    assert bound == {NODE, h.HOME}
    role, runtime = counters(ha)
    assert role["aaa.result.unreachable"] >= 1 and role["aaa.denied_requests"] >= 1
    assert runtime["radius.server_dead"] >= 1
    log = ha.log_text()
    assert log.count("aaa-lookup-failed node=10.1.0.21") == 1  # once per node and interval
    assert "no RADIUS server answered" in log or "every RADIUS server is marked dead" in log


def test_failover_to_the_second_server(lab, netns):
    servers, mipd = lab
    servers[1].start()  # the first one is not running: ICMP port unreachable, or no answer
    ha = mipd()
    reply = register(netns)
    assert reply is not None and reply.code == codes.ACCEPTED
    fetched = [sa for sa in ha.ctl_json("sas") if sa["source"] == "radius"]
    assert fetched[0]["server"] == f"127.0.0.2:{PORTS[1]}"
    runtime = counters(ha)[1]
    assert runtime["radius.failover"] >= 1
    status = ha.ctl_json("status")["radius"]
    assert status[0]["dead_for"] > 0 and status[1]["dead_for"] == 0


def test_a_reply_without_message_authenticator_is_ignored_and_counted(lab, netns):
    """BlastRADIUS (CVE-2024-3596): FreeRADIUS answers with a valid Response Authenticator but no
    Message-Authenticator; mipd drops it and the node gets no binding."""
    servers, mipd = lab
    servers[0].message_authenticator = False
    servers[0].start()
    ha = mipd({"servers": [{"address": "127.0.0.1", "port": PORTS[0]}]})
    assert register(netns, retries=2) is None
    runtime = counters(ha)[1]
    assert runtime["radius.reply_no_message_authenticator"] >= 1 and runtime.get("radius.accept", 0) == 0
    assert not ha.ctl_json("bindings")


def test_a_reply_signed_with_another_secret_is_ignored_and_counted(lab, netns):
    """A forged Access-Accept carrying the attacker's own key for the node: its authenticators are
    computed with a secret mipd does not have, so it is dropped, and the key never authenticates."""
    _servers, mipd = lab
    forged_key = "11" * 16
    sock = radius_server.bound_udp("127.0.0.1", PORTS[0], netns.name)
    spoofer = radius_server.FakeRadius(sock, secrets.token_bytes(16), [radius_server.sa_avpair(0, 300, forged_key)])
    spoofer.start()
    try:
        ha = mipd({"servers": [{"address": "127.0.0.1", "port": PORTS[0]}]})
        assert register(netns, key_hex=forged_key, retries=2) is None
    finally:
        spoofer.stop()
    runtime = counters(ha)[1]
    assert spoofer.requests >= 1 and runtime["radius.reply_bad_authenticator"] >= 1
    assert runtime.get("radius.accept", 0) == 0 and not ha.ctl_json("bindings")


def test_a_key_for_identity_x_cannot_register_y(lab, netns):
    servers, mipd = lab
    servers[0].add_sa("x@example.net", 300, RADIUS_KEY)
    servers[0].start()
    ha = mipd()
    # NAI x@example.net is served (mobile_hosts *@example.net) but nai_hosts gives it no address
    nai = NAIExtension("x@example.net")
    sock = h.udp_socket(netns.name)
    try:
        req = h.reg.RegistrationRequest(0, 600, NODE, h.HA_ADDRESS, h.COA, ntp_timestamp(time.time()))
        sa = h.SecurityAssociation("x@example.net", 300, bytes.fromhex(RADIUS_KEY))
        data = h.sign(sa, req.encode_fixed() + nai.encode(), h.MHAE)
        reply = None
        for _ in range(4):
            sock.sendto(data, (h.HA_ADDRESS, 434))
            try:
                reply = h.reg.decode(sock.recvfrom(4096)[0])
                break
            except TimeoutError:
                continue
    finally:
        sock.close()
    assert reply is not None and reply.code == codes.HA_MN_AUTH
    assert counters(ha)[0]["security.sa_not_for_home_address"] == 1
    # the address-identity too: NODE's key registers NODE only
    assert register(netns, "10.1.0.22", retries=3) is None  # unknown to RADIUS: rejected, no binding
    assert not ha.ctl_json("bindings")


def flood(ns: h.Netns, count: int) -> None:
    """`count` requests for unknown home addresses of the served network (signed with some key)."""
    sock = h.udp_socket(ns.name)
    try:
        for i in range(count):
            sock.sendto(h.request(home=f"10.1.0.{100 + i % 150}", key=bytes(16), spi=300)[0], (h.HA_ADDRESS, 434))
    finally:
        sock.close()


def settled(ha: h.Mipd) -> dict:
    """The home agent's counters once it has read everything sent (rx.request unchanged for 0.3 s)."""
    last = None
    while True:
        role = counters(ha)[0]
        if role.get("rx.request") == last:
            return role
        last = role.get("rx.request")
        time.sleep(0.3)


def test_unknown_identity_flood_is_bounded_by_the_lookup_rate(lab, netns):
    servers, mipd = lab
    servers[0].start()
    ha = mipd({"lookup_rate": 0.01})  # a burst of one lookup, then one per 100 s
    assert register(netns).code == codes.ACCEPTED  # that one
    flood(netns, 300)
    role = settled(ha)
    assert role["aaa.lookup"] == 1 and role["aaa.over_rate"] >= 150
    assert counters(ha)[1]["radius.request"] == 1


def test_unknown_identity_flood_is_bounded_by_pending_lookups(lab, netns):
    servers, mipd = lab
    servers[0].start()
    ha = mipd({"pending_lookups": 4, "lookup_rate": 0, "timeout": 20, "retries": 0})
    servers[0].pause()  # lookups stay in flight
    try:
        flood(netns, 300)
        role = settled(ha)
        assert role["aaa.lookup"] == 4 and role["aaa.pending_full"] >= 100
        assert ha.ctl_json("status")["radius"][0]["in_flight"] == 4
    finally:
        servers[0].resume()


def test_no_key_or_secret_in_logs_or_mipctl_output(lab, netns):
    servers, mipd = lab
    servers[0].add_raw("10.1.0.23", f"mobileip:spi#0=spi 300 key hex {RADIUS_KEY} algorithm sha1")
    servers[0].start()
    ha = mipd()
    assert register(netns).code == codes.ACCEPTED
    assert register(netns, "10.1.0.23", retries=3) is None  # malformed attribute: refused
    secret = servers[0].secret
    outputs = [
        ha.ctl(*(["--json"] if j else []), c)
        for c in control.COMMANDS
        if c not in ("reload", "drop-sas")
        for j in (0, 1)
    ]
    text = "".join(r.stdout + r.stderr for r in outputs) + ha.log_text()
    for needle in (RADIUS_KEY, RADIUS_KEY.upper(), secret):
        assert needle not in text
    assert "malformed SA attribute: spi#0: algorithm must be" in ha.log_text()
    assert os.stat(ha.config_path.parent / "keys.yaml").st_mode & 0o077 == 0
    check = h.subprocess.run([h.MIPD, "check-config", str(ha.config_path)], capture_output=True, text=True)
    assert check.returncode == 0 and f"RADIUS servers 127.0.0.1:{PORTS[0]}" in check.stdout
    assert secret not in check.stdout + check.stderr
