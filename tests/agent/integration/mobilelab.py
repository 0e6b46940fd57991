"""A Mobile IPv4 lab in network namespaces with real `mipd` daemons (HA, FA1, FA2, MN).

    home link (bridge br-home)        visit1 (br-v1)           visit2 (br-v2)        colo (br-colo, no FA)
      HA 10.1.0.1  ha0                  FA1 10.2.0.1 fa1-v       FA2 10.3.0.1 fa2-v    (MN's own 10.4.0.10)
      rt 10.1.0.254 rt-home             |                        |                     rt 10.4.0.254 rt-colo
      MN 10.1.0.10 (at home)            fa1-c 172.16.1.2         fa2-c 172.16.2.2
                                        |                        |
                                      rt-fa1 172.16.1.1 ---- rt (core router) ---- rt-fa2 172.16.2.1
                                                                 |
                                                       rt-cn 10.9.0.1 --- cn0 10.9.0.2 CN

Namespaces come from the data-plane tests' helpers (named ``mipdp-<pid>-<n>-<role>``). Every
bridge lives in a dedicated "sw" (switch) namespace, so nothing is created in the root
namespace. The MN has one interface, mn0, whose peer (s-mn, in sw) is moved between the bridges
with a carrier down/up: the MN daemon sees the link go down and come up (RFC 5944 §2.4.2), and
hears (or solicits) the advertisements of whichever agent is on the new link. The MN's home
address lives on its loopback (mipd.dataplane.host: ARP is switched per interface, §4.6).

The core router filters ingress (rp_filter=1): datagrams sourced from the home address reach the
CN from a visited network only through a reverse tunnel (RFC 3024 §1.3).

Each daemon runs `mipd run --foreground` in its namespace with its own directory (config, keys
file 0600, control socket, SQLite state, log) under the lab's temporary directory; `mipctl
--json` is run through `ip netns exec`. `Lab.close()` stops everything and removes every
namespace, process and file the lab made. Used by tests/agent/integration and
benchmarks/handoff.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "dataplane"))  # the data-plane tests' namespace helpers

import yaml  # noqa: E402
from dataplane_helpers import Capture, Namespaces, purge_stale_namespaces, run  # noqa: E402

VENV_BIN = Path(sys.executable).parent
MIPD = str(VENV_BIN / "mipd")
MIPCTL = str(VENV_BIN / "mipctl")
PYTHON = sys.executable
FLOWTOOL = str(HERE / "flowtool.py")

HOA = "10.1.0.10"
HA = "10.1.0.1"
HOME_GW = "10.1.0.254"
FA1 = "10.2.0.1"
FA2 = "10.3.0.1"
COLO = "10.4.0.10"
COLO_GW = "10.4.0.254"
CN = "10.9.0.2"
SPI = 300
KEY = "6d69706920696e746567726174696f6e"  # "mipi integration"
WRONG_KEY = "0123456789abcdef0123456789abcdef"
STREAM_PORT = 5000
RTPROT_MIPD = 173  # the data plane's protocol number on routes, rules and neighbours
REVERSE_TABLE = 434

#: where the MN can be, the bridge in sw, the care-of address there, the agent and rt's interface
PLACES = {
    "home": ("br-home", None, HA, "rt-home"),
    "visit1": ("br-v1", FA1, FA1, "rt-fa1"),
    "visit2": ("br-v2", FA2, FA2, "rt-fa2"),
    "colo": ("br-colo", COLO, HA, "rt-colo"),  # co-located: registered directly with the HA
}
AGENTS = ("ha", "fa1", "fa2")
DIR_PREFIX = "mipi-lab-"  # temporary directories: mipi-lab-<pid>-XXXX


def purge_stale_directories() -> None:
    """Remove the temporary directories of earlier runs whose process is gone (killed runs)."""
    for path in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*-*"):
        pid = path.name[len(DIR_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def lab_unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridges, TUN, raw sockets)"
    missing = [tool for tool in ("ip", "tcpdump") if shutil.which(tool) is None]
    return f"needs {', '.join(missing)}" if missing else None


def require_lab_tools() -> None:
    """Skip the calling test when the lab cannot run here (pytest only)."""
    import pytest

    why = lab_unavailable()
    if why is not None:
        pytest.skip(why)


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# ------------------------------------------------------------------ configuration


def encapsulations(backend: str) -> list[str]:
    """What the agents offer: the kernel has no minimal-encapsulation device (RFC 2004)."""
    return ["ipip", "gre"] if backend == "kernel" else ["ipip", "gre", "minimal"]


def ha_config(backend: str) -> dict[str, Any]:
    return {
        "dataplane": {"backend": backend, "tun": "mip0"},
        "home_agent": {
            "address": HA, "interface": "ha0", "home_networks": ["10.1.0.0/24"], "mobile_hosts": ["10.1.0.0/24"],
            "max_lifetime": 600, "reverse_tunnel": True, "encapsulations": encapsulations(backend),
            "advertisement": {"enabled": True, "interval": 1.0, "lifetime": 3},
        },
    }


def fa_config(backend: str, ifname: str, address: str) -> dict[str, Any]:
    return {
        "dataplane": {"backend": backend, "tun": "mip0"},
        "keys_file": None,
        "foreign_agent": {
            "interfaces": [{"name": ifname, "address": address, "prefix_length": 24}],
            "advertisement": {"interval": 1.0, "lifetime": 3},
            "registration_lifetime": 600, "reverse_tunnel": "offered", "encapsulations": encapsulations(backend),
        },
    }


def mn_config(backend: str, **mobile_node: Any) -> dict[str, Any]:
    return {
        "dataplane": {"backend": backend, "tun": "mip0"},
        "mobile_node": {
            "home_address": HOA, "home_agent": HA, "home_prefix_length": 24, "home_gateway": HOME_GW,
            "interfaces": ["mn0"], "reverse_tunnel": False, "encapsulation": "ipip", "lifetime": 120,
            "reregister_margin": 5, "solicit_interval": 0.3, "max_retransmit_interval": 4, **mobile_node,
        },
    }


def keys(peer: str, key: str = KEY) -> dict[str, Any]:
    return {"security_associations": [
        {"peer": peer, "spi": SPI, "algorithm": "hmac-md5", "key": key, "replay": "timestamp"}]}


# ------------------------------------------------------------------ daemons


class Mipd:
    """One `mipd run --foreground` in namespace `role`, with its own directory."""

    def __init__(self, ns: Namespaces, role: str, directory: Path, config: dict[str, Any],
                 key_file: dict[str, Any] | None) -> None:
        self.ns = ns
        self.role = role
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.keys = key_file
        self.socket = str(self.dir / "mipd.sock")
        self.log = self.dir / "mipd.log"
        self.proc: subprocess.Popen[Any] | None = None

    @property
    def config_path(self) -> Path:
        return self.dir / "mipd.yaml"

    def write(self) -> None:
        cfg = {"control_socket": "mipd.sock", "state_db": "state.db", "log": {"level": "info"}, **self.config}
        if self.keys is not None:
            cfg["keys_file"] = "keys.yaml"
            path = self.dir / "keys.yaml"
            path.write_text(yaml.safe_dump(self.keys))
            os.chmod(path, 0o600)
        self.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start(self, timeout: float = 20.0) -> Mipd:
        self.write()
        with open(self.dir / "stderr", "ab") as err:
            self.proc = self.ns.spawn(self.role, MIPD, "run", "--config", str(self.config_path), "--foreground",
                                      "--log-file", str(self.log), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=err)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"mipd in {self.role} exited with {self.proc.returncode}:\n{self.tail()}")
            return self.request("status") is not None

        wait_for(up, timeout, f"mipd in {self.role} to answer on its control socket")
        return self

    def request(self, command: str) -> Any:
        """The daemon's answer, straight from the control socket (None if unreachable)."""
        from mipd.runtime import control

        try:
            answer = control.request(self.socket, command, timeout=5.0)
        except (OSError, ValueError):
            return None
        return answer["result"] if answer.get("ok") else None

    def ctl(self, command: str) -> Any:
        """`mipctl --json COMMAND` run in the daemon's namespace; its result (AssertionError if refused)."""
        r = self.ns.exec(self.role, MIPCTL, "--socket", self.socket, "--json", command, check=False, timeout=30)
        try:
            answer = json.loads(r.stdout)
        except ValueError:
            raise AssertionError(f"mipctl {command} in {self.role}: {r.returncode} {r.stdout!r} {r.stderr!r}") \
                from None
        if not answer.get("ok"):
            raise AssertionError(f"mipctl {command} in {self.role} refused: {answer.get('error')}")
        return answer["result"]

    def reload(self, config: dict[str, Any] | None = None, key_file: dict[str, Any] | None = None) -> Any:
        if config is not None:
            self.config = config
        if key_file is not None:
            self.keys = key_file
        self.write()
        return self.ctl("reload")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)  # `ip netns exec` execs mipd: same pid

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit. Returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def kill9(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait(10)

    def tail(self, n: int = 40) -> str:
        text = ""
        for name in ("stderr", "mipd.log"):
            path = self.dir / name
            if path.exists():
                text += f"--- {self.role} {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-n:])
                text += "\n"
        return text


# ------------------------------------------------------------------ traffic


class Flow:
    """A UDP stream from `src_role` to `dst`:`port`, received by a sink in `dst_role` (flowtool.py)."""

    def __init__(self, ns: Namespaces, src_role: str, dst_role: str, dst: str, port: int = STREAM_PORT,
                 rate: float = 100.0, src: str | None = None) -> None:
        self.ns = ns
        self.sink = ns.spawn(dst_role, PYTHON, FLOWTOOL, "sink", str(port), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, bufsize=1)
        self._read(self.sink, 20)
        args = ["source", dst, str(port), "--rate", str(rate)] + (["--src", src] if src else [])
        self.source = ns.spawn(src_role, PYTHON, FLOWTOOL, *args, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, bufsize=1)
        self._read(self.source, 20)

    @staticmethod
    def _read(proc: subprocess.Popen[Any], timeout: float) -> Any:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise AssertionError(f"flowtool did not answer within {timeout:g} s")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"flowtool exited ({proc.poll()})")
        return json.loads(line)

    def _ask(self, command: str, timeout: float) -> Any:
        assert self.sink.stdin is not None
        self.sink.stdin.write(command + "\n")
        self.sink.stdin.flush()
        return self._read(self.sink, timeout)

    def stats(self) -> dict[str, Any]:
        return self._ask("stats", 10)

    def arrivals_after(self, after: float, count: int = 20, timeout: float = 15.0) -> dict[str, Any]:
        """Wait until `count` datagrams arrived at or after wall-clock time `after` (or `timeout` s)."""
        return self._ask(f"wait {after!r} {count} {timeout!r}", timeout + 10)

    def flowing(self, count: int = 20, timeout: float = 15.0) -> bool:
        """Do `count` new datagrams arrive from now on?"""
        return self.arrivals_after(time.time(), count, timeout)["count"] >= count

    def stop(self) -> None:
        for proc in (self.source, self.sink):
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    assert proc.stdin is not None
                    proc.stdin.close()
        for proc in (self.source, self.sink):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        self.ns.procs[:] = [p for p in self.ns.procs if p not in (self.source, self.sink)]


# ------------------------------------------------------------------ the lab


class Lab:
    """The topology of the module docstring, with one mipd per role (`start_daemons`)."""

    def __init__(self, backend: str = "userspace", mn: dict[str, Any] | None = None) -> None:
        purge_stale_namespaces()  # left by a killed earlier run
        purge_stale_directories()
        self.backend = backend
        self.ns = Namespaces()  # namespaces mipdp-<pid>-<n>-<role>
        self.dir = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-"))
        self.daemons: dict[str, Mipd] = {}
        self.flows: list[Flow] = []
        self.captures: list[Capture] = []
        self.place: str | None = None
        self.mn_settings = dict(mn or {})
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # -- topology

    def _build(self) -> None:
        ns = self.ns
        for role in ("sw", "rt", "cn", "ha", "fa1", "fa2", "mn"):
            ns.add(role)
        ns.ip("sw", *(f"link add {br} type bridge mcast_snooping 0" for br, *_ in PLACES.values()),
              *(f"link set {br} up" for br, *_ in PLACES.values()))
        for a, a_if, s_if, bridge in (("ha", "ha0", "s-ha", "br-home"), ("rt", "rt-home", "s-rthome", "br-home"),
                                      ("rt", "rt-colo", "s-rtcolo", "br-colo"), ("fa1", "fa1-v", "s-fa1", "br-v1"),
                                      ("fa2", "fa2-v", "s-fa2", "br-v2"), ("mn", "mn0", "s-mn", None)):
            ns.veth(a, a_if, "sw", s_if)
            if bridge is not None:
                ns.ip("sw", f"link set {s_if} master {bridge}", f"link set {s_if} up")
        ns.veth("rt", "rt-fa1", "fa1", "fa1-c")
        ns.veth("rt", "rt-fa2", "fa2", "fa2-c")
        ns.veth("rt", "rt-cn", "cn", "cn0")
        for role in ("rt", "ha", "fa1", "fa2", "cn", "mn"):
            # no IPv6 chatter on the links (and no DAD delays)
            ns.sysctl(role, net__ipv6__conf__all__disable_ipv6=1, net__ipv6__conf__default__disable_ipv6=1)
        ns.ip("rt", "addr add 10.1.0.254/24 dev rt-home", "addr add 10.4.0.254/24 dev rt-colo",
              "addr add 172.16.1.1/30 dev rt-fa1", "addr add 172.16.2.1/30 dev rt-fa2",
              "addr add 10.9.0.1/24 dev rt-cn",
              *(f"link set {i} up" for i in ("rt-home", "rt-colo", "rt-fa1", "rt-fa2", "rt-cn")),
              "route add 10.2.0.0/24 via 172.16.1.2", "route add 10.3.0.0/24 via 172.16.2.2")
        ns.ip("cn", "addr add 10.9.0.2/24 dev cn0", "link set cn0 up", "route add default via 10.9.0.1")
        ns.ip("ha", f"addr add {HA}/24 dev ha0", "link set ha0 up", f"route add default via {HOME_GW}")
        ns.ip("fa1", f"addr add {FA1}/24 dev fa1-v", "addr add 172.16.1.2/30 dev fa1-c", "link set fa1-v up",
              "link set fa1-c up", "route add default via 172.16.1.1")
        ns.ip("fa2", f"addr add {FA2}/24 dev fa2-v", "addr add 172.16.2.2/30 dev fa2-c", "link set fa2-v up",
              "link set fa2-c up", "route add default via 172.16.2.1")
        ns.ip("mn", f"addr add {HOA}/32 dev lo", "link set mn0 up")
        ns.sysctl("rt", net__ipv4__ip_forward=1, net__ipv4__conf__all__rp_filter=1,
                  net__ipv4__conf__default__rp_filter=1)
        for role in AGENTS:  # HA and FA forward (RFC 5944 §4.2.2-4.2.3); Linux proxy-ARPs only then
            ns.sysctl(role, net__ipv4__ip_forward=1)

    def attach_mn(self, place: str | None) -> float:
        """Move the MN's link to `place` (None: unplugged) with a carrier down/up; the wall-clock time
        the link came up on the new bridge. The colocated link gets the MN's address and gateway."""
        ns = self.ns
        ns.ip("sw", "link set s-mn down", "link set s-mn nomaster")
        if self.place == "colo":
            ns.ip("mn", f"addr del {COLO}/24 dev mn0")
            run(["ip", "-n", ns["mn"], "route", "del", "default", "via", COLO_GW], check=False)
        if place == "colo":
            ns.ip("mn", f"route replace default via {COLO_GW} dev mn0 onlink", f"addr add {COLO}/24 dev mn0")
        self.place = place
        if place is None:
            return time.time()
        bridge = PLACES[place][0]
        ns.ip("sw", f"link set s-mn master {bridge}")
        t = time.time()
        ns.ip("sw", "link set s-mn up")
        return t

    # -- daemons

    def mn_config(self, **changes: Any) -> dict[str, Any]:
        return mn_config(self.backend, **{**self.mn_settings, **changes})

    def start_daemons(self) -> None:
        d = self.dir
        specs = {
            "ha": (ha_config(self.backend), keys(HOA)),
            "fa1": (fa_config(self.backend, "fa1-v", FA1), None),
            "fa2": (fa_config(self.backend, "fa2-v", FA2), None),
            "mn": (self.mn_config(), keys(HA)),
        }
        for role, (config, key_file) in specs.items():
            if role not in self.daemons:
                self.daemons[role] = Mipd(self.ns, role, d / role, config, key_file)
        for role in specs:
            if not self.daemons[role].alive():
                self.daemons[role].start()

    def __getitem__(self, role: str) -> Mipd:
        return self.daemons[role]

    def configure_mn(self, key: str = KEY, **changes: Any) -> str | None:
        """Give the MN daemon this configuration (defaults + `changes`) and key. A changed configuration
        is reloaded (the MN then registers again where it is); a changed key restarts the MN (a reload
        that changes only keys re-registers nobody, and a denied node may be holding down). Returns
        "reloaded", "restarted" or None (nothing changed)."""
        mn = self.daemons["mn"]
        config, key_file = self.mn_config(**changes), keys(HA, key)
        if config == mn.config and key_file == mn.keys and mn.alive():
            return None
        if key_file != mn.keys or not mn.alive():
            mn.stop()
            mn.config, mn.keys = config, key_file
            mn.start()
            return "restarted"
        answer = mn.reload(config)
        assert answer["reloaded"], answer
        return "reloaded"

    def accepted_replies(self) -> int:
        """Registrations and deregistrations the running MN daemon has had accepted."""
        answer = self.daemons["mn"].request("counters") or {}
        c = answer.get("roles", {}).get("mobile_node", {})
        return c.get("registered", 0) + c.get("deregistered", 0)

    def go(self, place: str, **mn_changes: Any) -> dict[str, Any]:
        """The MN configured with `mn_changes` (see configure_mn), moved to `place` unless it is there,
        and registered there (deregistered at home) since the change or move; its registration state."""
        before = self.accepted_replies() if self.daemons["mn"].alive() else 0
        changed = self.configure_mn(**mn_changes)
        if changed == "restarted":
            before = 0
        moved = self.place != place
        if moved:
            self.attach_mn(place)
        if changed or moved:  # a request after the change may wait (one per second at most, §3.6)
            try:
                wait_for(lambda: self.accepted_replies() > before, 20, f"a new registration at {place}")
            except AssertionError as e:
                raise AssertionError(f"{e}\n{self.logs()}") from None
        return self.wait_registered(place)

    def reset_agent(self, role: str) -> None:
        """Restart agent `role` with an empty state database (no visitors or bindings left by earlier tests)."""
        d = self.daemons[role]
        d.stop()
        for path in d.dir.glob("state.db*"):
            path.unlink()
        d.start()

    # -- observing

    def registration(self) -> dict[str, Any]:
        return self.daemons["mn"].ctl("registration")

    def wait_registered(self, place: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until the MN is registered at `place` (at home: deregistered, location home)."""
        coa, agent = PLACES[place][1], PLACES[place][2]
        mn, ha = self.daemons["mn"], self.daemons["ha"]

        def done() -> dict[str, Any] | None:
            r = mn.request("registration")
            if r is None or r["pending"]:
                return None
            if place == "home":  # deregistered: the home agent holds no binding any more
                bindings = ha.request("bindings")
                ok = (r["location"] == "home" and not r["registered"] and r["last_reply_code"] == 0
                      and bindings is not None and not any(b["home_address"] == HOA for b in bindings))
            else:
                ok = (r["location"] == "away" and r["registered"] and r["care_of_address"] == coa
                      and r["agent_address"] == agent)
            return r if ok else None

        try:
            return wait_for(done, timeout, f"the MN to register at {place}")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.logs()}") from None

    def binding(self) -> list[dict[str, Any]]:
        return [b for b in self.daemons["ha"].ctl("bindings") if b["home_address"] == HOA]

    def mipd_state(self, role: str) -> dict[str, list[str]]:
        """What a mipd data plane leaves in namespace `role`: its routes (proto 173) and routes via
        mip0 in every table, reverse-tunnel rules, proxy ARP entries, permanent neighbours."""
        ns = self.ns
        routes = ns.exec(role, "ip", "-4", "route", "show", "table", "all").stdout.splitlines()
        rules = ns.exec(role, "ip", "-4", "rule").stdout.splitlines()
        return {
            "routes": [r for r in routes if f"proto {RTPROT_MIPD}" in r
                       or ("dev mip0" in r and "table local" not in r)],
            "rules": [r for r in rules if f"lookup {REVERSE_TABLE}" in r or f"proto {RTPROT_MIPD}" in r],
            "proxy": ns.exec(role, "ip", "-4", "neigh", "show", "proxy").stdout.split(),
            "neigh": ns.exec(role, "ip", "-4", "neigh", "show", "nud", "permanent").stdout.splitlines(),
        }

    def holds_state(self, role: str) -> bool:
        return any(self.mipd_state(role).values())

    def routes(self, role: str, *args: str) -> str:
        return self.ns.exec(role, "ip", "-4", "route", "show", *args).stdout

    def mac(self, role: str, ifname: str) -> str:
        return self.ns.exec(role, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()

    def capture(self, role: str, iface: str, bpf: str) -> Capture:
        cap = Capture(self.ns, role, iface, bpf)
        self.captures.append(cap)
        return cap

    def flow(self, src_role: str, dst_role: str, dst: str, **kw: Any) -> Flow:
        f = Flow(self.ns, src_role, dst_role, dst, **kw)
        self.flows.append(f)
        return f

    def stop_flows(self) -> None:
        """Stop the streams and any capture a (failed) test left running, and remove its file."""
        for f in self.flows:
            f.stop()
        self.flows.clear()
        for cap in self.captures:
            if cap.proc.poll() is None:
                cap.proc.kill()
                cap.proc.wait(10)
            if cap.proc.stderr is not None:
                cap.proc.stderr.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(cap.path)
        self.captures.clear()

    def logs(self) -> str:
        return "".join(d.tail() for d in self.daemons.values())

    # -- teardown

    def stop_daemons(self) -> dict[str, int]:
        return {role: d.stop() for role, d in self.daemons.items()}

    def close(self) -> None:
        try:
            self.stop_flows()
            self.stop_daemons()
        finally:
            self.ns.cleanup()
            shutil.rmtree(self.dir, ignore_errors=True)

    @classmethod
    @contextlib.contextmanager
    def running(cls, **kw: Any) -> Iterator[Lab]:
        lab = cls(**kw)
        try:
            lab.start_daemons()
            yield lab
        finally:
            lab.close()



def tunnelled(packets: list[Any]) -> list[dict[str, Any]]:
    """The IP-in-IP (4), GRE (47) and minimal-encapsulation (55) datagrams among captured frames:
    outer and inner addresses, inner protocol and destination port (RFC 2003 §3.1, RFC 2784 §2,
    RFC 2004 §3), decoded from the bytes so no dissector is trusted."""
    out = []
    for pkt in packets:
        raw = bytes(pkt)
        if len(raw) < 34 or raw[12:14] != b"\x08\x00":
            continue
        ip = raw[14:]
        ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
        src, dst, body = _addr(ip[12:16]), _addr(ip[16:20]), ip[ihl:]
        if proto == 4:
            inner_ihl = (body[0] & 0x0F) * 4
            inner = {"inner_src": _addr(body[12:16]), "inner_dst": _addr(body[16:20]), "inner_proto": body[9],
                     "payload": body[inner_ihl:]}
        elif proto == 47:
            flags = body[0]
            offset = 4 + 4 * bool(flags & 0x80) + 4 * bool(flags & 0x20) + 4 * bool(flags & 0x10)
            if body[2:4] != b"\x08\x00":
                continue
            body = body[offset:]
            inner_ihl = (body[0] & 0x0F) * 4
            inner = {"inner_src": _addr(body[12:16]), "inner_dst": _addr(body[16:20]), "inner_proto": body[9],
                     "payload": body[inner_ihl:]}
        elif proto == 55:
            has_source = bool(body[1] & 0x80)
            inner = {"inner_src": _addr(body[8:12]) if has_source else src, "inner_dst": _addr(body[4:8]),
                     "inner_proto": body[0], "payload": body[12 if has_source else 8:]}
        else:
            continue
        payload = inner.pop("payload")
        dport = int.from_bytes(payload[2:4], "big") if inner["inner_proto"] == 17 and len(payload) >= 4 else None
        out.append({"proto": proto, "src": src, "dst": dst, **inner, "dport": dport})
    return out


def _addr(b: bytes) -> str:
    return ".".join(str(x) for x in b)
