"""A reload never stops service (issue 9): a real `mipd run` home agent in a namespace made for the
test reloads a keys file of 20,000 SAs while a client keeps registering; every request is answered,
replies keep coming while the reload runs, and `mipctl reload` reports the real outcome (0 applied
with the new SA count, 1 refused and nothing changed, 4 not answered in time while it goes on)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import runtime_helpers as h
from mipd.protocol import codes
from mipd.wire import registration as reg

pytestmark = pytest.mark.netns

BIG = 20_000  # SAs in the reloaded keys file (the issue: about 4 s without replies before)
HUGE = 200_000  # SAs in a keys file that takes long enough to read for a client to stop waiting


def big_keys(count: int, bad_at: int | None = None) -> str:
    """The test node's SA and `count` more; entry `bad_at` (if given) has a reserved SPI."""
    lines = ["security_associations:",
             f'  - {{peer: {h.HOME}, spi: {h.SPI}, key: "{h.KEY_HEX}", algorithm: hmac-md5}}']
    for i in range(count):
        spi = 12 if i == bad_at else 300
        peer = f"10.{3 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
        lines.append(f'  - {{peer: {peer}, spi: {spi}, key: "{secrets.token_hex(16)}"}}')
    return "\n".join(lines) + "\n"


def write_keys(directory: Path, text: str) -> None:
    keys = directory / "keys.yaml"
    tmp = directory / "keys.yaml.new"
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, keys)


class Registrar(threading.Thread):
    """Registers the test node over and over, one request at a time, until stopped; counts what
    was sent and answered and when each reply came."""

    def __init__(self, ns: h.Netns) -> None:
        super().__init__(daemon=True)
        self.sock = h.udp_socket(ns.name)
        self.sock.settimeout(30.0)  # a reply that takes longer counts as lost
        self.sent = self.answered = self.accepted = 0
        self.reply_times: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            data, _ident = h.request()
            self.sock.sendto(data, (h.HA_ADDRESS, 434))
            self.sent += 1
            try:
                reply = reg.decode(self.sock.recvfrom(4096)[0])
            except TimeoutError:
                continue
            assert isinstance(reply, reg.RegistrationReply)
            self.answered += 1
            self.accepted += reply.code == codes.ACCEPTED
            self.reply_times.append(time.monotonic())
            time.sleep(0.002)

    def stop(self) -> None:
        self.halt.set()
        self.join(60)
        self.sock.close()


@pytest.fixture
def ha(netns, tmp_path):
    h.ip("addr", "add", f"{h.HA_ADDRESS}/32", "dev", "lo", ns=netns.name)
    h.ip("addr", "add", f"{h.COA}/32", "dev", "lo", ns=netns.name)
    mipd = h.Mipd(netns, h.write(tmp_path, h.config()))
    try:
        yield mipd.start()
    finally:
        mipd.stop()


def sa_count(ha: h.Mipd) -> int:
    return ha.ctl_json("status")["counts"]["security_associations"]


def test_reload_of_20000_sas_keeps_answering(ha, netns):
    write_keys(ha.config_path.parent, big_keys(BIG))
    client = Registrar(netns)
    client.start()
    try:
        time.sleep(0.3)
        begin = time.monotonic()
        r = ha.ctl("reload")
        end = time.monotonic()
        time.sleep(0.3)
    finally:
        client.stop()
    assert r.returncode == 0, r.stderr
    assert f"{BIG + 1} security associations" in r.stdout
    assert client.sent == client.answered == client.accepted > 0  # nothing lost, nothing refused
    during = sum(begin < t < end for t in client.reply_times)
    assert during >= 5, f"only {during} replies during the {end - begin:.1f} s reload"  # the loop kept serving
    assert sa_count(ha) == BIG + 1
    assert ha.ctl_json("status")["reload"]["last"] == "applied"


def test_refused_reload_changes_nothing(ha, netns):
    write_keys(ha.config_path.parent, big_keys(BIG, bad_at=BIG - 1))
    r = ha.ctl("reload")
    assert r.returncode == 1
    assert f"security_associations[{BIG}].spi: 0-255 are reserved" in r.stderr and "configuration stays" in r.stderr
    assert sa_count(ha) == 1
    assert ha.ctl_json("status")["reload"]["last"] == "refused"
    sock = h.udp_socket(netns.name)
    try:
        assert h.exchange(sock, h.request()[0]).code == codes.ACCEPTED
    finally:
        sock.close()


def test_reload_not_answered_in_time_goes_on(ha):
    """Exit 4 tells the reload was delivered and is still running; it is then applied."""
    write_keys(ha.config_path.parent, big_keys(HUGE))  # about a second to read
    r = ha.ctl("reload", "--timeout", "0.05")
    assert r.returncode == 4 and "the reload goes on" in r.stderr
    assert ha.ctl_json("status")["reload"]["in_progress"] is True, ha.ctl_json("status")["reload"]
    deadline = time.monotonic() + 60
    while ha.ctl_json("status")["reload"]["in_progress"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ha.ctl_json("status")["reload"]["last"] == "applied" and sa_count(ha) == HUGE + 1


def test_reloads_at_once_are_queued_and_all_answered(ha):
    """Two `mipctl reload` and a SIGHUP at the same time: one runs, one is queued and shared, all applied."""
    write_keys(ha.config_path.parent, big_keys(2_000))
    procs = [subprocess.Popen([h.MIPCTL, "--socket", ha.socket, "reload"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ha.signal(signal.SIGHUP)
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("2001 security associations" in out for out, _err in outs)
    assert ha.ctl("reload").returncode == 0 and sa_count(ha) == 2001
    assert ha.log_text().count("reloaded config=") >= 2


def test_mipctl_help_documents_the_exit_status():
    r = subprocess.run([h.MIPCTL, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for line in ("0  done", "1  the daemon refused", "3  the daemon cannot be reached", "4  the request was delivered"):
        assert line in r.stdout


def test_bad_timeout_is_a_usage_error(tmp_path):
    r = subprocess.run([h.MIPCTL, "--socket", str(tmp_path / "none.sock"), "--timeout", "-1", "reload"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--timeout" in r.stderr


def sa_line(peer: str, spi: int, key: str, algorithm: str = "hmac-md5") -> str:
    return f'  - {{peer: {peer}, spi: {spi}, key: "{key}", algorithm: {algorithm}}}'


def register(ns: h.Netns, key: bytes = h.KEY, spi: int = h.SPI, wait: float = 10.0) -> int | None:
    """One request of the test node signed with `key` under `spi`: the reply code (None: no reply)."""
    with contextlib.closing(h.udp_socket(ns.name)) as sock:
        sock.settimeout(wait)
        sock.sendto(h.request(key=key, spi=spi)[0], (h.HA_ADDRESS, 434))
        try:
            reply = reg.decode(sock.recvfrom(4096)[0])
        except TimeoutError:
            return None
    assert isinstance(reply, reg.RegistrationReply)
    return reply.code


def test_reload_reports_the_difference_and_applies_it_at_once(ha, netns):
    """Added, removed, changed key and changed algorithm, counted by (peer, SPI) in `mipctl reload`, the
    log and `status`; the test node's SA is changed to another key: the old key is refused (131, RFC 5944
    §3.8.2.1) by the very next request, the new one accepted; then removed: discarded (no SA to answer
    with, §3.8.2.1) and counted."""
    others = [(f"10.3.0.{i}", 300, secrets.token_hex(16)) for i in range(1, 11)]
    first = [sa_line(h.HOME, h.SPI, h.KEY_HEX), *(sa_line(*sa) for sa in others)]
    write_keys(ha.config_path.parent, "security_associations:\n" + "\n".join(first) + "\n")
    assert ha.ctl("reload").returncode == 0 and register(netns) == codes.ACCEPTED

    new_key = secrets.token_hex(16)
    second = [sa_line(h.HOME, h.SPI, new_key),  # changed key
              *(sa_line(*sa) for sa in others[:6]),  # 4 removed
              sa_line(*others[6][:2], secrets.token_hex(16)),  # changed key
              sa_line(*others[7], algorithm="md5-prefix-suffix"),  # changed algorithm
              *(sa_line(*sa) for sa in others[8:]),
              *(sa_line(f"10.3.1.{i}", 300, secrets.token_hex(16)) for i in range(3))]  # 3 added
    second.remove(sa_line(*others[5]))
    write_keys(ha.config_path.parent, "security_associations:\n" + "\n".join(second) + "\n")
    r = ha.ctl("reload")
    assert r.returncode == 0 and "(3 added, 1 removed, 3 changed)" in r.stdout, r.stdout
    assert ha.ctl_json("status")["reload"]["sa_changes"] == {"added": 3, "removed": 1, "changed": 3, "unchanged": 7}
    assert "added=3 removed=1 changed=3" in ha.log_text()
    assert register(netns) == codes.HA_MN_AUTH  # the old key, at once
    assert register(netns, key=bytes.fromhex(new_key)) == codes.ACCEPTED
    assert new_key not in r.stdout + ha.log_text()

    write_keys(ha.config_path.parent, "security_associations:\n" + "\n".join(second[1:]) + "\n")
    r = ha.ctl("reload")
    assert r.returncode == 0 and "(0 added, 1 removed, 0 changed)" in r.stdout, r.stdout
    discarded = ha.ctl_json("counters")["roles"]["home_agent"].get("discard.no_sa", 0)
    assert register(netns, key=bytes.fromhex(new_key), wait=1.0) is None
    assert ha.ctl_json("counters")["roles"]["home_agent"]["discard.no_sa"] == discarded + 1
