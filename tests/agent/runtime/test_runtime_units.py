"""Small runtime pieces on their own: decision log lines, keyed timers, the control socket protocol,
the JSON views, the data-plane driver's tunnel handles."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket

import pytest
from mipd.dataplane.null import NullDataplane
from mipd.protocol.actions import AddReverseTunnel, AddTunnel, AddTunnelRoute, RemoveTunnel
from mipd.protocol.home_agent import Binding
from mipd.protocol.mobile_node import MobileNodeStatus
from mipd.runtime import logs, views
from mipd.runtime.control import ControlError, ControlServer, request
from mipd.runtime.driver import Driver
from mipd.runtime.timers import Timers
from mipd.security import SecurityAssociation, SecurityAssociations

# ------------------------------------------------------------------ logs


def test_quote():
    assert logs.quote("10.1.0.10") == "10.1.0.10"
    assert logs.quote("mn@example.net") == "mn@example.net"
    assert logs.quote("bad authenticator") == '"bad authenticator"'
    assert logs.quote('say "hi"\n') == '"say \\"hi\\"\\n"'
    assert logs.quote(None) == "-" and logs.quote(True) == "true" and logs.quote(0) == "0"
    assert logs.quote("") == '""'


def test_decision_line(tmp_path):
    path = tmp_path / "mipd.log"
    logs.setup("info", str(path))
    try:
        d = logs.DecisionLog("home_agent")
        d.emit("registration", {"node": "10.1.0.10", "coa": "192.0.2.7", "code": 0, "lifetime": 600}, "info")
        d.emit("registration-denied", {"node": "10.1.0.11", "coa": "192.0.2.7", "code": 131,
                                       "reason": "bad authenticator"}, "warning")
        d.emit("noise", {"x": 1}, "debug")  # below the level: not written
        assert path.read_text() == ""  # gathered until the batch ends
        logging.getLogger("mipd.daemon").warning("other record")  # writes the pending lines first
        logs.flush()
    finally:
        logs.setup("info", None)
    lines = path.read_text().splitlines()
    assert lines.pop().endswith(" warning mipd.daemon other record")
    assert len(lines) == 2
    assert lines[0].endswith(" info mipd.home_agent registration node=10.1.0.10 coa=192.0.2.7 code=0 lifetime=600 "
                             'reason="registration accepted"')
    assert lines[1].endswith(' warning mipd.home_agent registration-denied node=10.1.0.11 coa=192.0.2.7 code=131 '
                             'reason="bad authenticator"')
    assert lines[0][:4].isdigit() and "T" in lines[0].split()[0] and lines[0].split()[0].endswith("Z")


def test_disabled_level_formats_nothing(monkeypatch):
    logs.setup("error", None)
    try:
        called = []
        monkeypatch.setattr(logs, "kv", lambda fields: called.append(fields) or "")
        logs.DecisionLog("home_agent").emit("registration", {"node": "x"}, "info")
        assert called == []
    finally:
        logs.setup("info", None)


def test_set_level():
    logs.setup("info", None)
    logs.set_level("debug")
    assert logging.getLogger("mipd").level == logging.DEBUG
    logs.setup("info", None)


# ------------------------------------------------------------------ timers


def test_timers_fire_replace_and_cancel():
    fired: list[tuple[str, object]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        clock = [1000.0]
        t = Timers(loop, lambda role, key: fired.append((role, key)), lambda: clock[0])
        t.arm("ha", "a", 1000.02)
        t.arm("ha", "b", 1000.01)
        t.arm("ha", "b", 1000.03)  # replaces the first "b"
        t.arm("fa", ("x", 1), 999.0)  # already due: fires at once
        t.arm("fa", "gone", 1000.01)
        t.cancel("fa", "gone")
        assert t.armed("ha", "a") and not t.armed("fa", "gone") and len(t) == 3
        await asyncio.sleep(0.1)
        t.arm("mn", "z", 1000.5)
        t.cancel_all()
        await asyncio.sleep(0.01)
        assert len(t) == 0

    asyncio.run(scenario())
    assert fired == [("fa", ("x", 1)), ("ha", "a"), ("ha", "b")]


# ------------------------------------------------------------------ control socket


def test_control_protocol(tmp_path):
    path = str(tmp_path / "ctl" / "mipd.sock")

    async def handler(command: str, req: dict) -> object:
        if command == "reload":
            raise ControlError("reload refused: because")
        if command == "counters":
            raise RuntimeError("boom")
        return {"command": command, "extra": req.get("extra")}

    async def scenario() -> None:
        server = ControlServer(path, handler)
        await server.start()
        try:
            assert oct(os.stat(path).st_mode & 0o777) == "0o600"
            loop = asyncio.get_running_loop()

            def ask(*a: object, **kw: object) -> dict:
                return request(path, *a, **kw)

            assert await loop.run_in_executor(None, lambda: ask("status", extra=5)) == {
                "ok": True, "result": {"command": "status", "extra": 5}}
            assert await loop.run_in_executor(None, lambda: ask("reload")) == {
                "ok": False, "error": "reload refused: because"}
            answer = await loop.run_in_executor(None, lambda: ask("counters"))
            assert answer["ok"] is False and "internal error: RuntimeError: boom" in answer["error"]
            answer = await loop.run_in_executor(None, lambda: ask("launch"))
            assert answer["ok"] is False and "unknown command 'launch'" in answer["error"]

            def raw(data: bytes) -> dict:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(5)
                    s.connect(path)
                    s.sendall(data)
                    return json.loads(s.makefile().readline())

            assert (await loop.run_in_executor(None, lambda: raw(b"not json\n")))["error"] == \
                "request is not a JSON object"
            assert (await loop.run_in_executor(None, lambda: raw(b"[1]\n")))["ok"] is False
            big = await loop.run_in_executor(None, lambda: raw(b"{" + b" " * 70000 + b"}\n"))
            assert "longer than" in big["error"]
            # A second server on a live socket refuses; a stale socket file is replaced.
            with pytest.raises(OSError, match="in use by a running mipd"):
                await ControlServer(path, handler).start()
        finally:
            await server.close()
        assert not os.path.exists(path)
        with socket.socket(socket.AF_UNIX) as stale:
            stale.bind(path)  # left behind by a killed daemon
        again = ControlServer(path, handler)
        await again.start()
        await again.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ views


def test_views_are_json_and_keyless():
    b = Binding("10.1.0.10", "192.0.2.7", 0xFFFF, math.inf, 0xE8FE6F8080000001, "gre", True, "192.0.2.7")
    v = views.binding(b, 0.0)
    assert v["expires"] is None and v["identification"] == "e8fe6f8080000001" and v["lifetime_left"] == 0xFFFF
    json.dumps(v)
    st = views.registration(MobileNodeStatus("away", True, False, False, "10.2.0.1", "10.2.0.1", "eth0",
                                             "10.1.0.1", 12.3456, 136))
    assert st["last_reply_name"] == "HA: unknown home agent address" and st["lifetime_left"] == 12.346
    key = b"\x01\x02secret-key-bytes"
    sas = SecurityAssociations([SecurityAssociation("10.1.0.10", 300, key)])
    out = views.security_associations(sas, {("10.1.0.10", 300): ("home_agent",)})
    assert out[0]["roles"] == ["home_agent"] and out[0]["key_fingerprint"].startswith("sha256:")
    assert key.hex() not in json.dumps(out) and "secret" not in json.dumps(out)


# ------------------------------------------------------------------ driver


def test_driver_keeps_tunnel_handles_by_name():
    dp = NullDataplane()
    d = Driver(dp, dp)
    t = AddTunnel("10.1.0.1", "192.0.2.7", "ipip")
    d.handlers[AddTunnel](t)
    d.handlers[AddTunnel](t)
    d.handlers[AddTunnelRoute](AddTunnelRoute("10.1.0.10", "10.1.0.1", "192.0.2.7", "ipip"))
    d.handlers[AddReverseTunnel](AddReverseTunnel("10.1.0.10", "10.1.0.1", "192.0.2.7", "ipip", "eth0"))
    assert dp.routes["10.1.0.10"] == [dp.reverse["10.1.0.10"]] and d.tunnels() == 1
    d.handlers[RemoveTunnel](RemoveTunnel("10.1.0.1", "192.0.2.7", "ipip"))
    assert d.tunnels() == 1  # one reference left
    d.handlers[RemoveTunnel](RemoveTunnel("10.1.0.1", "192.0.2.7", "ipip"))
    assert d.tunnels() == 0 and dp.tunnels() == []
    with pytest.raises(Exception, match="no tunnel 10.1.0.1 -> 192.0.2.9"):
        d.handlers[AddTunnelRoute](AddTunnelRoute("10.1.0.11", "10.1.0.1", "192.0.2.9", "ipip"))


# ------------------------------------------------------------------ link monitor


@pytest.mark.netns
def test_link_monitor_reports_changes(netns):
    """Carrier, addresses outside the home network and a gateway through the link (§2.4.2)."""
    import select
    import time

    import runtime_helpers as h
    from mipd.runtime.linkmon import LinkMonitor

    h.ip("link", "add", "lm-a", "type", "veth", "peer", "name", "lm-b", ns=netns.name)
    h.ip("addr", "add", "10.1.0.10/24", "dev", "lm-a", ns=netns.name)  # the home address: not a care-of address
    changes: list = []
    ours = {("lm-a", "10.3.0.99")}
    mon = h.in_netns(netns.name, lambda: LinkMonitor(("lm-a", "lm-gone"), "10.1.0.10/24", changes.append,
                                                     lambda i, g: (i, g) in ours))
    try:
        initial = h.in_netns(netns.name, mon.initial)
        assert [(c.interface, c.up) for c in initial] == [("lm-a", False), ("lm-gone", False)]

        def settle() -> list:
            del changes[:]
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                if select.select([mon], [], [], 0.05)[0]:
                    h.in_netns(netns.name, mon.on_readable)
                elif changes:
                    break
            return [(c.interface, c.up, c.address, c.prefix_length, c.gateway) for c in changes]

        h.ip("link", "set", "lm-a", "up", ns=netns.name)
        h.ip("link", "set", "lm-b", "up", ns=netns.name)
        assert settle() == [("lm-a", True, None, None, None)]
        h.ip("route", "add", "default", "via", "10.3.0.99", "dev", "lm-a", "onlink", ns=netns.name)  # "ours"
        h.ip("addr", "add", "10.3.0.5/24", "dev", "lm-a", ns=netns.name)
        assert settle() == [("lm-a", True, "10.3.0.5", 24, None)]
        h.ip("link", "set", "lm-b", "down", ns=netns.name)  # carrier lost
        assert settle()[-1][:2] == ("lm-a", False)
        h.ip("route", "replace", "default", "via", "10.3.0.1", "dev", "lm-a", "onlink", ns=netns.name)
        h.ip("link", "set", "lm-b", "up", ns=netns.name)
        got = settle()
        assert got[-1] == ("lm-a", True, "10.3.0.5", 24, "10.3.0.1")  # the link's own router, not ours
        assert h.in_netns(netns.name, lambda: mon.watch(("lm-a", "lm-b"), "10.1.0.0/24"))[0].interface == "lm-b"
    finally:
        mon.close()
