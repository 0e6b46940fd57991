"""A second mipd never takes over a running one (issue 9): with its own control socket and state
database in the same namespace it still finds UDP port 434 taken (SO_REUSEADDR would have let it
bind and receive all the traffic) and exits 1 naming the process that holds the port; the same
goes for the state database and the control socket; the first keeps serving. A port-434 socket of
another program on an address this agent does not serve does not stop it."""

from __future__ import annotations

import os
import socket

import pytest
import runtime_helpers as h
from mipd.protocol import codes

pytestmark = pytest.mark.netns


@pytest.fixture
def first(netns, tmp_path):
    h.ip("addr", "add", f"{h.HA_ADDRESS}/32", "dev", "lo", ns=netns.name)
    h.ip("addr", "add", f"{h.COA}/32", "dev", "lo", ns=netns.name)
    mipd = h.Mipd(netns, h.write(tmp_path / "first", h.config()))
    try:
        yield mipd.start()
    finally:
        mipd.stop()


def start_second(netns, directory, **changes):
    cfg = h.config()
    cfg.update(changes)
    path = h.write(directory, cfg)
    return netns.run(h.MIPD, "run", "--config", str(path), "--foreground", timeout=60)


def still_serving(first, netns) -> None:
    assert first.proc.poll() is None and first.ctl("status").returncode == 0
    sock = h.udp_socket(netns.name)
    try:
        assert h.exchange(sock, h.request()[0]).code == codes.ACCEPTED
    finally:
        sock.close()


def test_second_daemon_with_its_own_socket_and_database_is_refused(first, netns, tmp_path):
    r = start_second(netns, tmp_path / "second")
    assert r.returncode == 1
    assert f"cannot start: UDP port 434 is in use on 0.0.0.0 by pid {first.proc.pid} (" in r.stderr
    assert "mipd run --config" in r.stderr  # the holder's command line
    still_serving(first, netns)
    assert not (tmp_path / "second" / "mipd.sock").exists()


def test_second_daemon_on_the_same_database_names_its_holder(first, netns, tmp_path):
    r = start_second(netns, tmp_path / "second", state_db=str(tmp_path / "first" / "state.db"))
    assert r.returncode == 1
    assert f"state.db: in use by another mipd, pid {first.proc.pid} (" in r.stderr
    still_serving(first, netns)


def test_second_daemon_on_the_same_control_socket_names_its_holder(first, netns, tmp_path):
    r = start_second(netns, tmp_path / "second", control_socket=first.socket)
    assert r.returncode == 1
    assert f"is in use by a running mipd, pid {first.proc.pid} (" in r.stderr
    still_serving(first, netns)


def test_any_process_on_port_434_is_named(netns, tmp_path):
    """Not only a mipd: whatever holds the wildcard address's port 434 (here this test) is named."""
    squatter = h.in_netns(netns.name, lambda: _bound("0.0.0.0"))
    try:
        r = start_second(netns, tmp_path)
    finally:
        squatter.close()

    assert r.returncode == 1 and f"in use on 0.0.0.0 by pid {os.getpid()} (" in r.stderr


def test_port_434_on_an_address_not_served_here_is_left_alone(netns, tmp_path):
    h.ip("addr", "add", f"{h.HA_ADDRESS}/32", "dev", "lo", ns=netns.name)
    other = h.in_netns(netns.name, lambda: _bound("127.0.0.2"))
    mipd = h.Mipd(netns, h.write(tmp_path, h.config()))
    try:
        mipd.start()
        assert mipd.ctl("status").returncode == 0
    finally:
        mipd.stop()
        other.close()


def _bound(address: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a careless second agent would
    s.bind((address, 434))
    return s
