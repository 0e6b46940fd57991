"""Hygiene of the agent as an attacker or an unlucky operator meets it: key material put in any
wrong place of the keys file never reaches `mipd check-config` or `mipd run` output (the main
file's errors still show its values); a NUL byte in a configured path is a clear error; every file
a running mipd creates is its owner's alone (umask 077; the log 0640 at most), and files found
with wider modes are narrowed; the control socket answers undecodable, oversized or deeply nested
requests with an error, closes that connection and keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import runtime_helpers as h
import yaml
from mipd.cli import mipd as mipd_cli
from mipd.runtime import control, schema
from test_runtime_daemon import daemon_config, register, setup_home_link

HEX_SECRET = "5ec7e7c0ffee0123456789abcdef5ec7e7"
ASCII_SECRET = "Ascii-Secret-Key-7331"
NUMBER_SECRET = 98765432109876543210  # an unquoted all-digit key: YAML reads a number
SECRETS = (HEX_SECRET, ASCII_SECRET, NUMBER_SECRET)
SA_FIELDS = ("peer", "spi", "algorithm", "key_format", "replay", "replay_window", "fallback", "roles")
PATH_FIELDS = ("keys_file", "state_db", "control_socket", "log.file")


def keys_files_with(secret: object) -> dict[str, object]:
    """Keys files (objects to dump, or YAML text) with `secret` where no key belongs: every SA field,
    as a field's name, as an entry, a list, a top-level key or value, the whole document."""
    good = dict(h.BASE_KEYS["security_associations"][0])
    cases: dict[str, object] = {}
    for name in SA_FIELDS:
        for shape, value in (("value", secret), ("list", [secret]), ("mapping", {secret: secret})):
            cases[f"{name}-{shape}"] = {"security_associations": [{**good, name: value}]}
    cases["roles-second"] = {"security_associations": [{**good, "roles": ["home_agent", secret]}]}
    cases["field-name"] = {"security_associations": [{**good, secret: 1}]}
    cases["typo-field"] = {"security_associations": [{**good, "kye": secret}]}
    cases["entry"] = {"security_associations": [good, secret]}
    cases["list"] = {"security_associations": secret}
    cases["top-key"] = {"security_associations": [good], secret: 1}
    cases["top-value"] = {"security_associations": [good], "extra": secret}
    cases["document"] = secret
    cases["document-list"] = [secret]
    text = str(secret)
    cases["yaml-duplicate-key"] = f"security_associations: []\n{text}: 1\n{text}: 2\n"
    cases["yaml-duplicate-field"] = f"security_associations:\n  - peer: {h.HOME}\n    spi: 257\n    key: '{text}'\n" \
                                    f"    key: '{text}'\n"
    cases["yaml-tag"] = f"security_associations:\n  - key: !{text} x\n"
    cases["yaml-alias"] = f"security_associations:\n  - key: *{text}\n"
    cases["yaml-escape"] = f'security_associations:\n  - key: "{text}\\q"\n'
    cases["yaml-unclosed"] = f'security_associations:\n  - key: "{text}\n    spi: [257\n'
    return cases


def leaked(secret: object, text: str) -> bool:
    value = str(secret)
    return any(part in text for part in (value, value[:10], value[-10:]))


@pytest.fixture
def umask_kept():
    """`mipd run` sets the process umask (077); put the test process's back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize("secret", SECRETS, ids=["hex", "ascii", "number"])
def test_key_material_in_a_wrong_place_of_the_keys_file_is_never_printed(tmp_path, capfd, umask_kept, secret):
    for name, keys in keys_files_with(secret).items():
        config = h.write(tmp_path / name, h.config(), keys if isinstance(keys, str) else yaml.safe_dump(keys))
        log = tmp_path / name / "mipd.log"
        assert mipd_cli.main(["check-config", str(config)]) == 1, name
        assert mipd_cli.main(["run", "--config", str(config), "--foreground", "--log-file", str(log)]) == 1, name
        out = capfd.readouterr()
        assert out.out == "", name
        errors = out.err.splitlines()
        assert len(errors) == 2 and errors[0] == errors[1], (name, errors)
        keys_path = re.escape(str(tmp_path / name / "keys.yaml"))
        assert re.match(rf"mipd: {keys_path}( line \d+)?: ", errors[0]), (name, errors)
        assert not leaked(secret, out.err), (name, out.err)
        assert "Traceback" not in out.err
        assert not log.exists() or not leaked(secret, log.read_text())


def test_keys_file_errors_name_the_field_and_the_kind_of_value(tmp_path, capfd):
    good = dict(h.BASE_KEYS["security_associations"][0])
    keys = {"security_associations": [good, {**good, "spi": HEX_SECRET}]}
    config = h.write(tmp_path, h.config(), keys)
    assert mipd_cli.main(["check-config", str(config)]) == 1
    assert capfd.readouterr().err == f"mipd: {tmp_path / 'keys.yaml'} line 7: security_associations[1].spi: " \
                                     "must be an integer 256-4294967295, got a string (value hidden)\n"


def test_key_material_through_the_console_scripts(tmp_path):
    """The same through the installed `mipd` (a detached run too): nothing on stderr, nothing logged."""
    good = dict(h.BASE_KEYS["security_associations"][0])
    config = h.write(tmp_path, h.config(), {"security_associations": [{**good, "replay": HEX_SECRET}]})
    log = tmp_path / "mipd.log"
    runs = [subprocess.run([h.MIPD, *args], capture_output=True, text=True, timeout=30) for args in (
        ("check-config", str(config)),
        ("run", "--config", str(config), "--foreground", "--log-file", str(log)),
        ("run", "--config", str(config), "--log-file", str(log)))]
    for r in runs:
        assert r.returncode == 1 and r.stdout == ""
        assert "security_associations[0].replay: must be one of timestamp, nonce, none, got a string (value " \
               "hidden)" in r.stderr
        assert not leaked(HEX_SECRET, r.stderr)
    assert not log.exists() or not leaked(HEX_SECRET, log.read_text())


@pytest.mark.parametrize("name", ["key", "pre_shared_key", "secret", "api-password", "PSK"])
def test_a_field_under_a_key_like_name_hides_its_value(name):
    section = schema.Section({name: ASCII_SECRET, "keys_file": ASCII_SECRET}, "auth", (name, "keys_file"))
    with pytest.raises(schema.ConfigError) as hidden:
        section.get(name, schema.integer, None, 1, 5)
    assert str(hidden.value) == f"auth.{name}: must be an integer 1-5, got a string (value hidden)"
    with pytest.raises(schema.ConfigError) as shown:  # a path, not a key: shown as in any other field
        section.get("keys_file", schema.integer, None, 1, 5)
    assert ASCII_SECRET in str(shown.value)


def test_main_file_errors_still_show_the_value(tmp_path, capfd):
    cfg = h.config()
    cfg["home_agent"]["address"] = "10.1.0.300"
    assert mipd_cli.main(["check-config", str(h.write(tmp_path, cfg))]) == 1
    assert "home_agent.address: must be an IPv4 address, got '10.1.0.300'" in capfd.readouterr().err


# ------------------------------------------------------------------ NUL bytes in paths


@pytest.mark.parametrize("field", PATH_FIELDS)
def test_nul_byte_in_a_path_is_a_clear_error(tmp_path, field):
    cfg = h.config()
    h.set_path(cfg, field, "state\0.db")
    config = h.write(tmp_path, cfg)
    for args in (("check-config", str(config)), ("run", "--config", str(config), "--foreground")):
        r = subprocess.run([h.MIPD, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr == f"mipd: {config}: {field}: must be a file path without NUL bytes, got 'state\\x00.db'\n"


@pytest.mark.parametrize("where", ["home_agent.interface", "dataplane.tun"])
def test_nul_byte_in_an_interface_name_is_a_clear_error(tmp_path, capfd, where):
    cfg = h.config()
    h.set_path(cfg, where, "lo\0x")
    assert mipd_cli.main(["check-config", str(h.write(tmp_path, cfg))]) == 1
    assert f"{where}: must be an interface name" in capfd.readouterr().err


# ------------------------------------------------------------------ control socket: hostile requests


HOSTILE = {
    "nested-30000": b"[" * 30000 + b"]" * 30000 + b"\n",
    "nested-object-10000": b'{"a":' * 10000 + b"1" + b"}" * 10000 + b"\n",  # 60 KB
    "nested-9": b'{"command":"status","x":' + b"[" * 8 + b"]" * 8 + b"}\n",
    "not-utf8": b'{"command":"\xff\xfe"}\n',
    "not-json": b"status\n",
    "not-object": b'"status"\n',
    "too-large": b'{"command":"' + b"s" * (control.MAX_REQUEST + 10) + b'"}\n',
}
HOSTILE_ERRORS = {
    "nested-30000": "request is not a JSON object",
    "nested-object-10000": "request is not a JSON object",
    "nested-9": f"request is nested deeper than {control.MAX_DEPTH} levels",
    "not-utf8": "request is not a JSON object",
    "not-json": "request is not a JSON object",
    "not-object": "request is not a JSON object",
    "too-large": f"request longer than {control.MAX_REQUEST} bytes",
}


def send_raw(path: str, data: bytes) -> tuple[dict, bytes]:
    """Send `data` on a new connection; the reply line and what follows it until the daemon closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break  # closed by the daemon
            received += chunk
    line, _, rest = received.partition(b"\n")
    return json.loads(line), rest


def check_hostile_requests(path: str) -> None:
    for name, data in HOSTILE.items():
        answer, rest = send_raw(path, data)
        assert answer == {"ok": False, "error": HOSTILE_ERRORS[name]}, name
        assert rest == b"", name  # nothing more: the connection was closed after the error
        assert control.request(path, "status")["ok"], name  # and the next client is served


def test_control_socket_refuses_hostile_requests_and_keeps_serving(tmp_path):
    path = str(tmp_path / "mipd.sock")

    async def handler(command: str, request: dict) -> object:
        return {"command": command}

    async def scenario() -> None:
        server = control.ControlServer(path, handler)
        await server.start()
        try:
            await asyncio.get_running_loop().run_in_executor(None, check_hostile_requests, path)
            # An accepted request keeps its connection open for the next one.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(path)
                lines = sock.makefile("rwb")
                for _ in range(2):
                    lines.write(b'{"command":"status"}\n')
                    lines.flush()
                    reply = await asyncio.get_running_loop().run_in_executor(None, lines.readline)
                    assert json.loads(reply) == {"ok": True, "result": {"command": "status"}}
        finally:
            await server.close()

    asyncio.run(scenario())


def test_unknown_command_is_not_echoed_at_length(tmp_path):
    path = str(tmp_path / "mipd.sock")

    async def handler(command: str, request: dict) -> object:
        return None

    async def scenario() -> None:
        server = control.ControlServer(path, handler)
        await server.start()
        try:
            ask = asyncio.get_running_loop().run_in_executor
            answer = await ask(None, lambda: control.request(path, "x" * 5000))
            assert answer["ok"] is False and answer["error"].startswith("unknown command given; one of status")
            answer = await ask(None, lambda: control.request(path, {"nested": 1}))  # type: ignore[arg-type]
            assert answer["error"].startswith("unknown command given;")
        finally:
            await server.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ a real mipd: file modes, hostile clients


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def start_with_umask(mipd: h.Mipd, umask: int) -> h.Mipd:
    old = os.umask(umask)  # inherited by `ip netns exec` and mipd
    try:
        return mipd.start()
    finally:
        os.umask(old)


def state_files(directory: Path) -> dict[str, Path]:
    return {name: directory / name for name in ("state.db", "state.db-wal", "state.db-shm", "state.db.lock",
                                                "mipd.sock", "mipd.pid", "mipd.log")}


@pytest.mark.netns
def test_files_of_a_running_agent_are_private_under_a_permissive_umask(netns, tmp_path):
    setup_home_link(netns)
    config = h.write(tmp_path, daemon_config())
    mipd = h.Mipd(netns, config, "--pid-file", str(tmp_path / "mipd.pid"))
    start_with_umask(mipd, 0)
    try:
        reply, _ident = register(netns)  # a commit: the WAL holds a binding row
        assert reply.code == 0
        files = state_files(tmp_path)
        modes = {name: mode(path) for name, path in files.items()}
        assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600, "state.db.lock": 0o600,
                         "mipd.sock": 0o600, "mipd.pid": 0o600, "mipd.log": 0o600}
        assert stat.S_ISSOCK(os.lstat(files["mipd.sock"]).st_mode)
        assert not [p for p in tmp_path.iterdir() if p.name not in files and p.name not in ("mipd.yaml", "keys.yaml")]
        check_hostile_requests(mipd.socket)  # the real daemon, too
    finally:
        assert mipd.stop() == 0
    stderr = mipd.proc.stderr.read() if mipd.proc and mipd.proc.stderr else ""
    assert "Traceback" not in stderr + mipd.log_text() and "RecursionError" not in stderr + mipd.log_text()


@pytest.mark.netns
def test_files_found_with_wide_modes_are_narrowed(netns, tmp_path):
    setup_home_link(netns)
    config = h.write(tmp_path, daemon_config())
    first = h.Mipd(netns, config)
    first.start()
    register(netns)
    first.signal(signal.SIGKILL)  # the -wal and -shm files stay behind
    first.wait()
    files = state_files(tmp_path)
    files["mipd.pid"].write_text("1\n")
    for name in ("state.db", "state.db-wal", "state.db-shm", "mipd.pid", "mipd.log"):
        os.chmod(files[name], 0o644 if name != "mipd.log" else 0o666)
    mipd = h.Mipd(netns, config, "--pid-file", str(files["mipd.pid"]))
    start_with_umask(mipd, 0)
    try:
        modes = {name: mode(files[name]) for name in ("state.db", "state.db-wal", "state.db-shm", "mipd.pid",
                                                       "mipd.log")}
        assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600, "mipd.pid": 0o600,
                         "mipd.log": 0o640}
        log = mipd.log_text()
        assert f"log file {files['mipd.log']} was mode 0666; now 0640" in log
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert f"{files[name]} was mode 0644; now 0600" in log
        assert len(mipd.ctl_json("bindings")) == 1  # the state survived the narrowing
    finally:
        assert mipd.stop() == 0
