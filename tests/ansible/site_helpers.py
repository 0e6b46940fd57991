"""A namespace lab for the site/verify/rotate_keys playbooks, driven through ansible-playbook.

`SiteLab` brings up the collection's lab (playbooks/lab_up.yml) with its own prefix, management
network, inventory file and state directory, so it never collides with the lab tests or another
run; writes a keys inventory next to it (the lab's inventory has no keys: a second inventory
source adds them, as a vault file would); runs playbooks against both over SSH; and removes
everything with playbooks/lab_down.yml (then the lab's Python API as a fallback). Used by
tests/ansible and benchmarks/site_timing.py.

The collection's code imports itself as ``ansible_collections.netmobility.mobileip``: a temporary
frozen copy of this checkout as ``ansible_collections/netmobility/mobileip`` goes on sys.path and on
ANSIBLE_COLLECTIONS_PATH, and its playbooks are the ones run.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import labenv

ROOT = labenv.ROOT
VENV_BIN = labenv.VENV_BIN
STATE_ROOT = Path("/var/lib/netmobility-lab")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
AGENT_HOSTS = ("ha", "fa1", "fa2")


COLLECTIONS = labenv.frozen_collections("mobileip-site-collections-")  # a copy: see labenv
atexit.register(shutil.rmtree, COLLECTIONS, True)
COLLECTION = COLLECTIONS / "ansible_collections" / "netmobility" / "mobileip"  # its playbooks are run
labenv.importable(COLLECTIONS)


def unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    return labenv.lab_unavailable("tcpdump")


def recaps(stdout: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP lines: host -> ok, changed, unreachable, failed."""
    return {m.group(1): dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()[1:]), strict=True))
            for m in RECAP.finditer(stdout)}


def free_mgmt_network(low: int = 20, high: int = 99) -> str:
    """A free 10.254.N.0/24 (low <= N <= high): the lab tests use 100-249."""
    return labenv.free_network("10.254", low, high)


def new_key() -> str:
    """A random 128-bit hex key (RFC 5944 §5.1), never seen before in any output."""
    return secrets.token_hex(16)


class SiteLab:
    """A lab with `mobile_nodes` mobile nodes, keys for each, and the collection's playbooks."""

    def __init__(self, tmp: Path, prefix: str, mobile_nodes: int = 2, lifetime: int = 20, margin: int = 10) -> None:
        self.tmp = tmp
        self.prefix = prefix
        self.state_dir = STATE_ROOT / prefix
        self.inventory = tmp / "hosts.yml"
        self.keys_inventory = tmp / "keys.yml"
        self.next_inventory = tmp / "next.yml"
        self.mgmt = free_mgmt_network()
        self.mobile_nodes = [f"mn{i}" for i in range(1, mobile_nodes + 1)]
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"),
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_PIPELINING": "true",
            "ANSIBLE_FORKS": "10",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        })
        self.lab_vars = ["-e", f"lab_prefix={prefix}", "-e", f"lab_mgmt_network={self.mgmt}",
                         "-e", f"lab_inventory_path={self.inventory}", "-e", f"lab_mobile_nodes={mobile_nodes}"]
        # the controller's wheel cache of this run (nothing left in ~/.cache)
        self.extra = ["-e", f"agent_wheel_cache={tmp / 'wheels'}"]
        self.keys: dict[str, str] = {mn: new_key() for mn in self.mobile_nodes} | {"fa1": new_key()}
        self.next_keys: dict[str, str] = {mn: new_key() for mn in self.mobile_nodes} | {"fa1": new_key()}
        self.spi, self.next_spi, self.fa_spi, self.fa_next_spi = 257, 258, 1000, 1001
        self.lifetime, self.margin = lifetime, margin
        self.outputs: list[str] = []  # every ansible-playbook output, for the key leak check
        self.down = False

    # ------------------------------------------------------------------ running things

    def run(self, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, env=self.env, cwd=COLLECTION, timeout=timeout,
                              check=False)

    def playbook(self, name: str, *args: str, inventories: tuple[Path, ...] | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """ansible-playbook playbooks/<name> against the lab and keys inventories (with -i)."""
        argv = [str(VENV_BIN / "ansible-playbook"), str(COLLECTION / "playbooks" / name)]
        for inv in (self.inventory, self.keys_inventory) if inventories is None else inventories:
            argv += ["-i", str(inv)]
        proc = self.run(*argv, *self.extra, *args, timeout=timeout)
        self.outputs.append(proc.stdout + proc.stderr)
        return proc

    def ok(self, name: str, *args: str, **kw: Any) -> tuple[subprocess.CompletedProcess[str], dict]:
        """A playbook run that must succeed; its per-host recap."""
        proc = self.playbook(name, *args, **kw)
        rec = recaps(proc.stdout)
        assert proc.returncode == 0 and rec and all(r["failed"] == 0 and r["unreachable"] == 0 for r in rec.values()), \
            f"{name} failed (rc {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        return proc, rec

    def up(self) -> None:
        proc = self.run(str(VENV_BIN / "ansible-playbook"), str(COLLECTION / "playbooks" / "lab_up.yml"),
                        *self.lab_vars)
        assert proc.returncode == 0, f"lab_up failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        self.write_keys()

    def roam(self, node: str, to: str) -> None:
        proc = self.run(str(VENV_BIN / "ansible-playbook"), str(COLLECTION / "playbooks" / "roam.yml"),
                        "-i", str(self.inventory), "-e", f"node={node}", "-e", f"to={to}")
        assert proc.returncode == 0, f"roam {node} to {to} failed:\n{proc.stdout[-3000:]}"

    def teardown(self) -> None:
        """Remove whatever is left: lab_down first, then the lab's Python API and the files directly."""
        if not self.down:
            proc = self.run(str(VENV_BIN / "ansible-playbook"), str(COLLECTION / "playbooks" / "lab_down.yml"),
                            *self.lab_vars)
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:])
            self.down = True
        from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

        lt.ensure_absent(self.prefix, [f"{self.prefix}-mg"])
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # ------------------------------------------------------------------ keys

    def write_keys(self, promoted: bool = False) -> None:
        """The keys inventory: current SPIs and keys (promoted: the rotated ones), short MN lifetimes so the
        nodes keep re-registering; and the next-keys inventory a rotation reads."""
        spi, fa_spi, keys = ((self.next_spi, self.fa_next_spi, self.next_keys) if promoted
                             else (self.spi, self.fa_spi, self.keys))
        base: dict[str, Any] = {"all": {
            "vars": {"mip_mn_ha_spi": spi, "mip_fa_ha_spi": fa_spi, "mobile_node_lifetime": self.lifetime,
                     "mobile_node_reregister_margin": self.margin},
            "children": {
                "mobile_nodes": {"hosts": {mn: {"mip_mn_ha_key": keys[mn]} for mn in self.mobile_nodes}},
                "foreign_agents": {"hosts": {"fa1": {"mip_fa_ha_key": keys["fa1"]}}},
            }}}
        self.keys_inventory.write_text(json.dumps(base, indent=1))
        nxt: dict[str, Any] = {"all": {
            "vars": {"mip_mn_ha_spi_next": self.next_spi, "mip_fa_ha_spi_next": self.fa_next_spi},
            "children": {
                "mobile_nodes": {"hosts": {mn: {"mip_mn_ha_key_next": self.next_keys[mn]} for mn in self.mobile_nodes}},
                "foreign_agents": {"hosts": {"fa1": {"mip_fa_ha_key_next": self.next_keys["fa1"]}}},
            }}}
        self.next_inventory.write_text(json.dumps(nxt, indent=1))

    def all_keys(self) -> list[str]:
        return list(self.keys.values()) + list(self.next_keys.values())

    # ------------------------------------------------------------------ the hosts

    def hosts(self) -> list[str]:
        return [*AGENT_HOSTS, *self.mobile_nodes]

    def agent_dir(self, host: str) -> Path:
        """The agent's prefix on a lab host (role agent: <lab state dir>/agents/<host>)."""
        return self.state_dir / "agents" / host

    def mipctl(self, host: str, command: str) -> Any:
        """`mipctl --json COMMAND` in the host's namespace; the daemon's result."""
        d = self.agent_dir(host)
        proc = subprocess.run(["ip", "netns", "exec", f"{self.prefix}-{host}", str(d / "opt/mipd/venv/bin/mipctl"),
                               "--socket", str(d / "run/mipd/mipd.sock"), "--json", command],
                              capture_output=True, text=True, timeout=30, check=False)
        answer = json.loads(proc.stdout)
        assert answer.get("ok"), f"mipctl {command} on {host}: {answer.get('error')}"
        return answer["result"]

    def checksums(self) -> dict[str, str]:
        """sha256 of every host's mipd configuration and keys file (absent: '-')."""
        out = {}
        for host in self.hosts():
            for name in ("mipd.yaml", "keys.yaml"):
                path = self.agent_dir(host) / "etc/mipd" / name
                out[f"{host}/{name}"] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"
        return out

    def pids(self) -> dict[str, str]:
        return {h: (self.agent_dir(h) / "run/mipd/mipd.pid").read_text().strip() for h in self.hosts()
                if (self.agent_dir(h) / "run/mipd/mipd.pid").exists()}

    def denied(self, host: str, role: str) -> dict[str, int]:
        """The registrations `role` on `host` refused so far, per reply code."""
        counters = self.mipctl(host, "counters")["roles"].get(role, {})
        return {k: v for k, v in counters.items() if k.startswith("denied.")}

    def capture_request_spis(self, node: str, count: int = 1, timeout: float = 40) -> list[int]:
        """The MHAE SPIs of the next `count` registration requests `node` sends (tcpdump in its namespace)."""
        pcap = self.tmp / f"{node}-{time.monotonic_ns()}.pcap"
        subprocess.run(["timeout", str(timeout), "ip", "netns", "exec", f"{self.prefix}-{node}", "tcpdump", "-i", "any",
                        "-n", "-U", "-c", str(count), "-w", str(pcap), "udp dst port 434"],
                       capture_output=True, check=False, timeout=timeout + 10)
        return [spi for payload in udp_payloads(pcap) if (spi := mhae_spi(payload)) is not None]


def mixed_lab(tmp: Path, prefix: str, ios_hosts: list[str]) -> Iterator[SiteLab]:
    """A one-node lab whose `ios_hosts` are IOS-like routers, up for a module's tests and torn down after; then no
    key may have shown in any playbook's output (a module fixture: `yield from sh.mixed_lab(...)`)."""
    lab = SiteLab(tmp, prefix, mobile_nodes=1)
    lab.lab_vars += ["-e", json.dumps({"lab_ios_like_hosts": ios_hosts})]
    try:
        lab.up()
        yield lab
    finally:
        lab.teardown()
    for output in lab.outputs:
        for key in lab.all_keys():
            assert key not in output, "a key in a playbook's output"


def udp_payloads(pcap: Path) -> list[bytes]:
    """UDP payloads of the IPv4 packets in a capture (scapy reads it)."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    if not pcap.exists():
        return []
    return [bytes(p[UDP].payload) for p in rdpcap(str(pcap)) if p.haslayer(UDP)]


def mhae_spi(payload: bytes) -> int | None:
    """The SPI of the Mobile-Home Authentication Extension (type 32) of a Registration Request
    (RFC 5944 §3.3, §3.5.2): the extensions follow the 24 fixed bytes as type, length, data."""
    if len(payload) < 24 or payload[0] != 1:
        return None
    i = 24
    while i + 2 <= len(payload):
        kind, length = payload[i], payload[i + 1]
        if kind == 32 and length >= 4:
            return int.from_bytes(payload[i + 2:i + 6], "big")
        i += 2 + length
    return None
