"""Shared helpers for the runtime tests: configuration files, signed registration requests built
with mipd.wire + mipd.security, and network namespaces that are always removed.

Imported by the test modules as `runtime_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from mipd.security import SecurityAssociation, sign
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
