"""A real `mipd run` (home agent, userspace data plane) inside a network namespace made for the test:
a signed registration over UDP gets a signed reply, `mipctl --json bindings` lists the binding, it
survives kill -9 and a restart (and so does the replay state), SIGHUP with a broken configuration
keeps the running one, SIGTERM leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time

import pytest
import runtime_helpers as h
import yaml
from mipd.protocol import codes
from mipd.runtime import control

pytestmark = pytest.mark.netns

BACKEND = os.environ.get("MIPD_TEST_BACKEND", "userspace")
HOME_IF = "ha-home"
PEER_IF = "ha-peer"


def setup_home_link(ns: h.Netns) -> None:
    """The home link: a veth pair inside the namespace, the home agent's address on ha-home; the
    test client (a foreign agent or co-located node, as far as the HA can tell) on lo."""
    h.ip("link", "add", HOME_IF, "type", "veth", "peer", "name", PEER_IF, ns=ns.name)
    h.ip("addr", "add", f"{h.HA_ADDRESS}/24", "dev", HOME_IF, ns=ns.name)
    for dev in (HOME_IF, PEER_IF):
        h.ip("link", "set", dev, "up", ns=ns.name)
    h.ip("addr", "add", f"{h.COA}/32", "dev", "lo", ns=ns.name)


def daemon_config(backend: str = BACKEND, **ha: object) -> dict:
    cfg = h.config()
    cfg["dataplane"] = {"backend": backend, "tun": "mip0"}
    cfg["home_agent"].update({"interface": HOME_IF, "advertisement": {"enabled": True, "interval": 1, "lifetime": 3}})
    cfg["home_agent"].update(ha)
    return cfg


@pytest.fixture
def ha(netns, tmp_path):
    setup_home_link(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, daemon_config()))
    try:
        yield mipd.start()
    finally:
        mipd.stop()


def register(ns: h.Netns, **kw: object) -> tuple[object, int]:
    sock = h.udp_socket(ns.name)
    try:
        data, ident = h.request(**kw)
        return h.exchange(sock, data), ident
    finally:
        sock.close()


def kernel_state(ns: h.Netns) -> dict[str, str]:
    """What mipd could leave behind in the namespace: links, routes (all tables), rules, neighbours."""
    return {
        "links": ns.run("ip", "-o", "link", "show").stdout,
        "routes": ns.run("ip", "-4", "route", "show", "table", "all").stdout,
        "rules": ns.run("ip", "-4", "rule", "show").stdout,
        "neigh": ns.run("ip", "-4", "neigh", "show").stdout,
        "proxy": ns.run("ip", "-4", "neigh", "show", "proxy").stdout,
    }


def test_registration_accepted_signed_and_listed(ha, netns):
    reply, ident = register(netns)
    assert reply.code == codes.ACCEPTED and reply.lifetime == 600
    assert reply.identification == ident and reply.home_address == h.HOME and reply.home_agent == h.HA_ADDRESS
    assert h.reply_verifies(reply)

    bindings = ha.ctl_json("bindings")
    assert len(bindings) == 1
    b = bindings[0]
    assert (b["home_address"], b["care_of_address"], b["lifetime"], b["encap"]) == (h.HOME, h.COA, 600, "ipip")
    assert 590 <= b["lifetime_left"] <= 600 and b["identification"] == f"{ident:016x}"

    table = ha.ctl("bindings")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["HOME", "ADDRESS", "CARE-OF"] and row.split()[:2] == [h.HOME, h.COA]

    status = ha.ctl_json("status")
    assert status["roles"] == ["home_agent"] and status["dataplane"] == BACKEND
    assert status["counts"]["bindings"] == 1 and status["config"] == str(ha.config_path)

    counters = ha.ctl_json("counters")
    assert counters["roles"]["home_agent"]["accepted.registration"] == 1
    assert counters["runtime"]["store.commits"] >= 1
    if BACKEND == "userspace":
        assert "encap_packets" in counters["dataplane"]
        # The data plane intercepts the home address: a host route through the TUN device (§4.2.3)
        # and a proxy ARP entry on the home link (§4.6).
        routes = netns.run("ip", "-4", "route", "show", "table", "all").stdout
        assert f"{h.HOME} dev mip0" in routes
        assert h.HOME in netns.run("ip", "neigh", "show", "proxy").stdout

    # One decision line, key=value, never the key.
    log = ha.log_text()
    assert f"registration node={h.HOME} coa={h.COA} code=0 lifetime=600" in log
    assert h.KEY_HEX not in log


def test_no_key_material_in_any_output(ha, netns):
    register(netns)
    outputs = [ha.ctl(*(["--json"] if j else []), c) for c in control.COMMANDS if c != "reload" for j in (0, 1)]
    text = "".join(r.stdout + r.stderr for r in outputs) + ha.log_text()
    assert h.KEY_HEX not in text and h.KEY_HEX.upper() not in text
    sas = ha.ctl_json("sas")
    assert sas == [{"peer": h.HOME, "spi": h.SPI, "algorithm": "hmac-md5", "replay": "timestamp", "replay_window": 7,
                    "fallback": False, "roles": None, "source": "file", "key_fingerprint": sas[0]["key_fingerprint"]}]
    assert sas[0]["key_fingerprint"].startswith("sha256:")


def test_commands_for_roles_this_host_lacks(ha):
    r = ha.ctl("visitors")
    assert r.returncode == 1 and "this host is not a foreign agent (roles: home_agent)" in r.stderr
    r = ha.ctl("--json", "registration")
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False


def test_denials_are_answered_and_logged(ha, netns):
    reply, _ = register(netns, key=b"wrong key, wrong key")
    assert reply.code == codes.HA_MN_AUTH and h.reply_verifies(reply)
    reply, _ = register(netns, home="10.1.0.10", ha="10.1.0.2")
    assert reply.code == codes.HA_UNKNOWN_HA
    assert "registration-denied node=10.1.0.10 coa=192.0.2.77 code=131" in ha.log_text()
    assert ha.ctl_json("bindings") == []


def test_subnet_directed_broadcast_is_refused_with_136(ha, netns):
    """IP_PKTINFO tells the HA a request was sent to its home network's broadcast address (§3.8.2.1)."""
    sock = h.udp_socket(netns.name, broadcast=True)
    try:
        data, ident = h.request()
        sock.sendto(data, ("10.1.0.255", 434))
        raw, addr = sock.recvfrom(4096)
    finally:
        sock.close()
    from mipd.wire import registration as reg

    reply = reg.decode(raw)
    assert reply.code == codes.HA_UNKNOWN_HA and reply.identification == ident
    assert addr == (h.HA_ADDRESS, 434)  # answered from its unicast address (§3.8.3.1)


def test_binding_and_replay_state_survive_kill_9(netns, tmp_path):
    setup_home_link(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, daemon_config()))
    try:
        mipd.start()
        data, ident = h.request()
        sock = h.udp_socket(netns.name)
        try:
            assert h.exchange(sock, data).code == codes.ACCEPTED
            mipd.signal(signal.SIGKILL)
            assert mipd.wait() == -signal.SIGKILL
            mipd.start()
            bindings = mipd.ctl_json("bindings")
            assert [(b["home_address"], b["care_of_address"], b["identification"]) for b in bindings] == [
                (h.HOME, h.COA, f"{ident:016x}")]
            assert "restored bindings=1" in mipd.log_text()
            # The same request replayed after the restart is refused: the replay state was persisted (§5.7.1).
            replayed = h.exchange(sock, data)
            assert replayed.code == codes.HA_ID_MISMATCH
            # A fresh request is accepted and re-registration keeps one binding.
            fresh, _ = h.request()
            assert h.exchange(sock, fresh).code == codes.ACCEPTED
            assert len(mipd.ctl_json("bindings")) == 1
        finally:
            sock.close()
    finally:
        mipd.stop()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_captured_request_replayed_after_expiry_and_restart_gets_133(netns, tmp_path, stop):
    """§5.7.1: capture a request, let its binding expire, restart mipd, replay it inside the replay
    window (7 s): the last accepted timestamp outlived the binding row, so 133 and no binding."""
    setup_home_link(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, daemon_config()))
    sock = h.udp_socket(netns.name)
    try:
        mipd.start()
        captured, _ = h.request(lifetime=1)
        assert h.exchange(sock, captured).code == codes.ACCEPTED
        deadline = time.monotonic() + 5
        while mipd.ctl_json("bindings") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mipd.ctl_json("bindings") == [], "the binding expired while mipd ran"
        mipd.signal(stop)
        mipd.wait()
        mipd.start()
        replayed = h.exchange(sock, captured)
        assert replayed.code == codes.HA_ID_MISMATCH and h.reply_verifies(replayed)
        assert mipd.ctl_json("bindings") == []
    finally:
        sock.close()
        mipd.stop()


def test_an_nai_key_cannot_register_another_nodes_home_address(netns, tmp_path):
    """The impersonation hole, end to end: evil@example.net holds an NAI SA for 10.1.0.20 only; its
    valid request for another node's address gets 131 over the wire and no binding."""
    from mipd.security import SecurityAssociation, sign
    from mipd.security.replay import ntp_timestamp
    from mipd.wire import registration as reg
    from mipd.wire.extensions import MHAE, NAIExtension

    setup_home_link(netns)
    keys = {"security_associations": [*h.BASE_KEYS["security_associations"],
                                      {"peer": "evil@example.net", "spi": 300, "key": "ee" * 16}]}
    cfg = daemon_config(nai_hosts=[{"nai": "evil@example.net", "home_addresses": ["10.1.0.20"]}])
    mipd = h.Mipd(netns, h.write(tmp_path, cfg, keys))
    sock = h.udp_socket(netns.name)
    evil = SecurityAssociation("evil@example.net", 300, bytes.fromhex("ee" * 16))
    try:
        mipd.start()
        for home, code in ((h.HOME, codes.HA_MN_AUTH), (h.HA_ADDRESS, codes.HA_MN_AUTH), ("10.1.0.20", 0)):
            req = reg.RegistrationRequest(0, 600, home, h.HA_ADDRESS, h.COA, ntp_timestamp(time.time()))
            data = sign(evil, req.encode() + NAIExtension("evil@example.net").encode(), MHAE)
            assert h.exchange(sock, data).code == code, home
        assert [b["home_address"] for b in mipd.ctl_json("bindings")] == ["10.1.0.20"]
        assert mipd.ctl_json("counters")["roles"]["home_agent"]["security.sa_not_for_home_address"] == 2
        assert "does not authenticate home address 10.1.0.10" in mipd.log_text()
    finally:
        sock.close()
        mipd.stop()


def test_restart_drops_expired_bindings(netns, tmp_path):
    setup_home_link(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, daemon_config()))
    try:
        mipd.start()
        reply, _ = register(netns, lifetime=1)
        assert reply.code == codes.ACCEPTED and reply.lifetime == 1
        mipd.signal(signal.SIGKILL)
        mipd.wait()
        time.sleep(1.2)
        if BACKEND == "userspace":  # what the killed daemon installed is still there...
            assert h.HOME in netns.run("ip", "neigh", "show", "proxy").stdout
        mipd.start()
        assert mipd.ctl_json("bindings") == []
        assert "expired=1" in mipd.log_text()
        if BACKEND == "userspace":  # ...until the next start purges it
            assert h.HOME not in netns.run("ip", "neigh", "show", "proxy").stdout
            assert h.HOME not in netns.run("ip", "-4", "route", "show", "table", "all").stdout
            assert "left by an earlier mipd" in mipd.log_text()
    finally:
        mipd.stop()


def test_sighup_with_a_broken_config_keeps_the_running_one(ha, netns):
    good = ha.config_path.read_text()
    broken = yaml.safe_load(good)
    broken["home_agent"]["max_lifetime"] = "abc"
    ha.config_path.write_text(yaml.safe_dump(broken))
    ha.signal(signal.SIGHUP)

    r = ha.ctl("reload")
    assert r.returncode == 1
    assert "reload refused" in r.stderr and "home_agent.max_lifetime: must be an integer 1-65535, got 'abc'" in r.stderr
    assert ha.proc.poll() is None
    assert "reload refused" in ha.log_text()
    reply, _ = register(netns, lifetime=1000)
    assert reply.code == codes.ACCEPTED and reply.lifetime == 1000  # the old max_lifetime (1800) still applies

    # A valid change applies without losing the binding, and shortens its lifetime (never extends).
    fixed = yaml.safe_load(good)
    fixed["home_agent"]["max_lifetime"] = 300
    ha.config_path.write_text(yaml.safe_dump(fixed))
    answer = ha.ctl_json("reload")
    assert answer["reloaded"] is True and answer["restart_needed"] == []
    bindings = ha.ctl_json("bindings")
    assert len(bindings) == 1 and bindings[0]["lifetime"] == 300
    reply, _ = register(netns, lifetime=1000)
    assert reply.code == codes.ACCEPTED and reply.lifetime == 300


def test_reload_with_a_broken_keys_file_and_changed_roles_is_refused(ha, netns):
    keys = ha.config_path.parent / "keys.yaml"
    keys.write_text(f"security_associations:\n  - {{peer: 10.1.0.10, spi: 12, key: \"{h.KEY_HEX}\"}}\n")
    r = ha.ctl("reload")
    assert r.returncode == 1 and "security_associations[0].spi: 0-255 are reserved" in r.stderr
    assert h.KEY_HEX not in r.stderr
    keys.write_text(yaml.safe_dump(h.BASE_KEYS))
    os.chmod(keys, 0o600)
    cfg = yaml.safe_load(ha.config_path.read_text())
    cfg["foreign_agent"] = h.FA_SECTION
    ha.config_path.write_text(yaml.safe_dump(cfg))
    r = ha.ctl("reload")
    assert r.returncode == 1 and "roles changed" in r.stderr
    assert register(netns)[0].code == codes.ACCEPTED


def test_sigterm_leaves_nothing_behind(netns, tmp_path):
    setup_home_link(netns)
    before = kernel_state(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, daemon_config()))
    mipd.start()
    try:
        assert register(netns)[0].code == codes.ACCEPTED
        if BACKEND == "userspace":
            assert kernel_state(netns) != before  # TUN device, host route, proxy ARP entry
        mipd.signal(signal.SIGTERM)
        assert mipd.wait() == 0
    finally:
        mipd.stop()
    after = kernel_state(netns)
    assert after == before
    assert not os.path.exists(mipd.socket)
    assert "stopped" in mipd.log_text()
    # The binding is still in the state database for the next start.
    mipd.start()
    try:
        assert len(mipd.ctl_json("bindings")) == 1
    finally:
        mipd.stop()


def test_control_socket_is_root_only(ha, netns):
    mode = os.stat(ha.socket).st_mode
    assert stat.S_IMODE(mode) == 0o600

    def as_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)

    def mipctl_as_nobody(path: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([h.MIPCTL, "--socket", path, "--json", "status"], capture_output=True, text=True,
                              preexec_fn=as_nobody, timeout=30)

    # A path nobody can reach (the test's own directory is private): a second name for the socket.
    link = f"/tmp/mipd-test-{os.getpid()}-{id(ha)}.sock"
    os.link(ha.socket, link)
    try:
        r = mipctl_as_nobody(link)
        assert r.returncode == 3 and "Permission denied" in r.stderr  # mode 0600
        os.chmod(link, 0o666)  # past the file mode, SO_PEERCRED still refuses other users
        r = mipctl_as_nobody(link)
        assert r.returncode == 1 and json.loads(r.stdout)["error"] == "permission denied: root only"
    finally:
        os.unlink(link)


def test_a_second_daemon_on_the_same_socket_refuses_to_start(ha, netns):
    r = netns.run(h.MIPD, "run", "--config", str(ha.config_path), "--foreground", timeout=30)
    assert r.returncode == 1 and "cannot start" in r.stderr
    assert ha.proc.poll() is None and ha.ctl("status").returncode == 0


def test_detached_start_with_pid_file(netns, tmp_path):
    setup_home_link(netns)
    cfg = daemon_config(backend="none")
    cfg["log"] = {"level": "info", "file": "detached.log"}
    path = h.write(tmp_path, cfg)
    pid_file = tmp_path / "mipd.pid"
    r = netns.run(h.MIPD, "run", "--config", str(path), "--pid-file", str(pid_file), timeout=30)
    assert r.returncode == 0, r.stderr
    pid = int(pid_file.read_text())
    try:
        assert control.request(str(tmp_path / "mipd.sock"), "status")["result"]["pid"] == pid
    finally:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not pid_file.exists():
                break
            import time

            time.sleep(0.05)
    assert not pid_file.exists()
    assert "started" in (tmp_path / "detached.log").read_text()


def test_detached_start_failure_is_reported(netns, tmp_path):
    """The parent waits for the agent: a start-up failure is its exit status, with the reason."""
    cfg = daemon_config(backend="none")
    cfg["state_db"] = "/proc/no/such/place/state.db"
    r = netns.run(h.MIPD, "run", "--config", str(h.write(tmp_path, cfg)), timeout=30)
    assert r.returncode == 1 and "cannot start: state database" in r.stderr
