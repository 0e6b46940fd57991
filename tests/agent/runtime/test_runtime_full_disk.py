"""A full disk (issue 9): the state database on a 1 MB tmpfs mounted by the test. Once a filler
file takes the rest, commits fail: registrations get 130 (RFC 5944 §3.4 insufficient resources)
and change nothing, every acceptance sent is durable (`mipctl bindings` equals what a restart
after kill -9 reads back), the failure and the recovery are logged once each, and service
resumes with code 0 once space is freed."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from pathlib import Path

import pytest
import runtime_helpers as h
from mipd.protocol import codes

pytestmark = pytest.mark.netns

NODES = [f"10.1.0.{i}" for i in range(20, 220)]


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(path: Path) -> None:
    """Append to `path` until the file system has no byte left."""
    with open(path, "ab", buffering=0) as f:
        for size in (65536, 4096, 512, 64, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break


def register(sock, home: str, coa: str = h.COA) -> int:
    data, _ = h.request(home=home, coa=coa)
    return h.exchange(sock, data).code


def listed(mipd: h.Mipd) -> dict[str, tuple[str, str]]:
    return {b["home_address"]: (b["care_of_address"], b["identification"]) for b in mipd.ctl_json("bindings")}


def test_full_disk_answers_130_changes_nothing_and_recovers(netns, tmp_path, small_disk):
    h.ip("addr", "add", f"{h.HA_ADDRESS}/32", "dev", "lo", ns=netns.name)
    h.ip("addr", "add", f"{h.COA}/32", "dev", "lo", ns=netns.name)
    keys = {"security_associations": [{"peer": n, "spi": h.SPI, "key": h.KEY_HEX} for n in [h.HOME, *NODES]]}
    mipd = h.Mipd(netns, h.write(tmp_path, h.config(state_db=str(small_disk / "state.db")), keys))
    mipd.start()
    sock = h.udp_socket(netns.name)
    ballast = small_disk / "ballast"
    try:
        assert register(sock, h.HOME) == codes.ACCEPTED
        fill(ballast)
        answers: dict[str, list[int]] = {}
        for node in NODES:  # new rows: sooner or later the database cannot grow
            code = register(sock, node)
            answers.setdefault(node, []).append(code)
            if code == codes.HA_RESOURCES:
                break
        refused = [n for n, c in answers.items() if c[-1] == codes.HA_RESOURCES]
        assert refused, "the disk never filled up"
        assert all(c in (codes.ACCEPTED, codes.HA_RESOURCES) for cs in answers.values() for c in cs)
        fill(ballast)  # what a truncated write-ahead log gave back
        before = listed(mipd)
        for _ in range(5):
            assert register(sock, h.HOME, coa="192.0.2.88") == codes.HA_RESOURCES  # a move: refused, not made
            assert register(sock, refused[0]) == codes.HA_RESOURCES
        assert listed(mipd) == before  # nothing unsaved shown
        assert before[h.HOME][0] == h.COA and refused[0] not in before
        counters = mipd.ctl_json("counters")
        assert counters["roles"]["home_agent"]["rolled_back.registration"] >= 11
        assert counters["runtime"]["store.commit_failed"] >= 11

        ballast.unlink()
        assert register(sock, refused[0]) == codes.ACCEPTED  # service resumes
        assert register(sock, h.HOME, coa="192.0.2.88") == codes.ACCEPTED
        shown = listed(mipd)
        log = mipd.log_text()
        assert log.count("state database commit failed") == 1 and log.count("commits work again after") == 1
        assert "registration-denied node=10.1.0.10 coa=192.0.2.88 code=130" in log

        mipd.signal(signal.SIGKILL)
        mipd.wait()
        mipd.start()
        assert listed(mipd) == shown  # every acknowledged binding was durable, nothing more
    finally:
        sock.close()
        mipd.stop()
