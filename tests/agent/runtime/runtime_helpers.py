"""Shared helpers for the runtime tests: configuration files, signed registration requests built
with mipd.wire + mipd.security, and network namespaces that are always removed.

Imported by the test modules as `runtime_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import copy
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from mipd.runtime import control, frames
from mipd.security import SecurityAssociation, sign, verify
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

VENV_BIN = Path(sys.executable).parent
MIPD = str(VENV_BIN / "mipd")
MIPCTL = str(VENV_BIN / "mipctl")

HA_ADDRESS = "10.1.0.1"
HOME = "10.1.0.10"
COA = "192.0.2.77"
SPI = 257
KEY_HEX = "6d69706420746573742073656372657421"  # distinctive, so a leak is easy to spot
KEY = bytes.fromhex(KEY_HEX)

BASE_CONFIG: dict[str, Any] = {
    "dataplane": {"backend": "none", "tun": "mip0"},
    "control_socket": "mipd.sock",
    "state_db": "state.db",
    "keys_file": "keys.yaml",
    "log": {"level": "info"},
    "home_agent": {
        "address": HA_ADDRESS,
        "interface": "lo",
        "home_networks": ["10.1.0.0/24"],
        "mobile_hosts": ["10.1.0.0/24", "*@example.net"],
        "max_lifetime": 1800,
    },
}
BASE_KEYS: dict[str, Any] = {
    "security_associations": [
        {"peer": HOME, "spi": SPI, "key": KEY_HEX, "algorithm": "hmac-md5", "replay": "timestamp"},
    ]
}
FA_SECTION: dict[str, Any] = {
    "interfaces": [{"name": "fa-visit", "address": "10.2.0.1", "prefix_length": 24}],
    "advertisement": {"interval": 1.0, "lifetime": 3},
}
MN_SECTION: dict[str, Any] = {
    "home_address": HOME,
    "home_agent": HA_ADDRESS,
    "interfaces": ["mn-eth0"],
}


def config(**sections: Any) -> dict[str, Any]:
    """BASE_CONFIG with top-level sections replaced (None removes one)."""
    cfg = copy.deepcopy(BASE_CONFIG)
    for k, v in sections.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = copy.deepcopy(v)
    return cfg


def write(directory: Path, cfg: dict[str, Any] | str, keys: dict[str, Any] | str | None = None,
          name: str = "mipd.yaml") -> Path:
    """Write the config (and keys file, mode 0600) into `directory`; the config's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg, sort_keys=False))
    k = directory / "keys.yaml"
    k.write_text(yaml.safe_dump(BASE_KEYS if keys is None else keys) if not isinstance(keys, str) else keys)
    os.chmod(k, 0o600)
    return path


def set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """tree["a"]["b"][0]["c"] = value for dotted "a.b[0].c"."""
    node: Any = tree
    parts = dotted.replace("[", ".[").split(".")
    for i, part in enumerate(parts):
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        if i == len(parts) - 1:
            node[key] = value
        else:
            node = node[key]


def request(home: str = HOME, coa: str = COA, lifetime: int = 600, ident: int | None = None, flags: int = 0,
            key: bytes = KEY, spi: int = SPI, now: float | None = None, ha: str = HA_ADDRESS) -> tuple[bytes, int]:
    """A Registration Request signed with an MHAE (RFC 5944 §3.3, §3.5.2); (bytes, identification)."""
    ident = ntp_timestamp(time.time() if now is None else now) if ident is None else ident
    req = reg.RegistrationRequest(flags, lifetime, home, ha, coa, ident)
    return sign(SecurityAssociation(home, spi, key), req.encode(), MHAE), ident


# ------------------------------------------------------------------ network namespaces


def have_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def ip(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Netns:
    """A network namespace with loopback up (and optional addresses on lo); removed by `close`."""

    def __init__(self, prefix: str = "mipdrt") -> None:
        self.name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        ip("netns", "add", self.name)
        ip("link", "set", "lo", "up", ns=self.name)

    def run(self, *cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True, **kw)

    def popen(self, *cmd: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], text=True, **kw)

    def close(self) -> None:
        ip("netns", "del", self.name, check=False)

    @staticmethod
    def exists(name: str) -> bool:
        return os.path.exists(f"/run/netns/{name}")


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(name: str, fn: Any) -> Any:
    """fn() run on a thread that entered network namespace `name` (a socket made there stays there)."""
    out: dict[str, Any] = {}

    def target() -> None:
        fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            out["value"] = fn()
        except BaseException as e:  # handed to the caller
            out["error"] = e
        finally:
            os.close(fd)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def udp_socket(ns: str, address: str = COA, port: int = 0, broadcast: bool = False) -> socket.socket:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # next to mipd's 0.0.0.0:434
        if broadcast:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind((address, port))
        s.settimeout(3.0)
        return s

    return in_netns(ns, make)


def exchange(sock: socket.socket, data: bytes, dest: str = HA_ADDRESS) -> reg.RegistrationReply:
    """Send a request to `dest`:434 and decode the reply."""
    sock.sendto(data, (dest, 434))
    reply, _addr = sock.recvfrom(4096)
    msg = reg.decode(reply)
    assert isinstance(msg, reg.RegistrationReply)
    return msg


def reply_verifies(reply: reg.RegistrationReply, home: str = HOME, key: bytes = KEY, spi: int = SPI) -> bool:
    ext = reply.find(MHAE)
    return ext is not None and verify(SecurityAssociation(home, spi, key), reply.raw, ext) is not None


class Mipd:
    """`mipd run --foreground` inside a namespace, with its control socket and log file."""

    def __init__(self, ns: Netns, config_path: Path, *extra_args: str) -> None:
        self.ns = ns
        self.config_path = config_path
        self.extra_args = extra_args  # more `mipd run` options (--pid-file ...)
        self.socket = str(config_path.parent / "mipd.sock")
        self.log = config_path.parent / "mipd.log"
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 15.0) -> Mipd:
        self.proc = self.ns.popen(MIPD, "run", "--config", str(self.config_path), "--foreground",
                                  "--log-file", str(self.log), *self.extra_args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mipd exited {self.proc.returncode}: {self.proc.stderr.read()}\n{self.log_text()}")
            try:
                if control.request(self.socket, "status", timeout=1.0)["ok"]:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"mipd did not come up within {timeout} s\n{self.log_text()}")

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([MIPCTL, "--socket", self.socket, *args], capture_output=True, text=True, timeout=30)

    def ctl_json(self, command: str) -> Any:
        r = self.ctl("--json", command)
        answer = json.loads(r.stdout)
        assert answer["ok"], answer
        return answer["result"]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        # `ip netns exec` execs mipd, so the child's pid is mipd's
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.signal(signal.SIGTERM)
        try:
            return self.wait()
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.wait()

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def receive(ps: Any, want: Any, timeout: float = 3.0) -> Any:
    """The first frame on `ps` for which want(mac, rx) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame, ready in ps.recv_batch(64):
            parsed = frames.parse_frame(frame, ready)
            if parsed is not None and want(*parsed):
                return parsed
        time.sleep(0.005)
    raise AssertionError("no such frame")
