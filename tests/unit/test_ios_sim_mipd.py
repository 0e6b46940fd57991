"""The IOS-like router running Mobile IP through the collection's model, in namespaces of the test's own.

The router runs inside a namespace (as in the lab, in place of sshd) and is configured over SSH
with netmiko as IOS is; on `end` its running configuration goes through the collection's IOS
parser and Linux renderer (ios_sim/translator.py) into a real mipd next to it, which answers
signed registrations on UDP 434 from another namespace, advertises on its links, relays to a
Linux home agent, and is reloaded (bindings kept) when the configuration changes. What the CLI
refuses never reaches it; what the model refuses is logged by field and mipd keeps its last good
configuration. Every namespace, link and process is the test's and is removed (processes by PID).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent" / "runtime"))
import runtime_helpers as rh

pytest.importorskip("netmiko")
from ios_sim.harness import RouterProcess
from mipd.protocol import codes
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket
from mipd.security import SecurityAssociation, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

pytestmark = pytest.mark.netns

HOME_IF, PEER_IF = "ha-home", "ha-peer"
UP_IF, CLIENT_IF = "ha-up", "cl-up"
ERRORS = r"% Invalid|% Incomplete|% Ambiguous"
KEY2_HEX = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FA_KEY_HEX = "7a1f39d04e5c8b2a6e9d0c3f1b2a4d5e"
SHORT_KEY_HEX = "0011223344556677"  # 8 bytes: the CLI takes it, the model refuses it (RFC 5944 §5.1)


class Namespaces:
    """Network namespaces and veth pairs between them; `close` removes them all."""

    def __init__(self) -> None:
        self.made: list[rh.Netns] = []

    def add(self, prefix: str) -> rh.Netns:
        ns = rh.Netns(prefix)
        self.made.append(ns)
        return ns

    @staticmethod
    def veth(ns_a: rh.Netns, name_a: str, address_a: str | None, ns_b: rh.Netns, name_b: str,
             address_b: str | None) -> None:
        rh.ip("link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b.name, ns=ns_a.name)
        for ns, name, address in ((ns_a, name_a, address_a), (ns_b, name_b, address_b)):
            if address:
                rh.ip("addr", "add", address, "dev", name, ns=ns.name)
            rh.ip("link", "set", name, "up", ns=ns.name)

    def close(self) -> None:
        for ns in self.made:
            ns.close()


@pytest.fixture
def spaces():
    if not rh.have_netns():
        pytest.skip("needs root and iproute2 to create network namespaces")
    made = Namespaces()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def netns(spaces):
    """One namespace: the router's home link (a veth whose peer stays there) and a care-of address on lo."""
    ns = spaces.add("iossim")
    rh.ip("link", "add", HOME_IF, "type", "veth", "peer", "name", PEER_IF, ns=ns.name)
    rh.ip("addr", "add", f"{rh.HA_ADDRESS}/24", "dev", HOME_IF, ns=ns.name)
    for dev in (HOME_IF, PEER_IF):
        rh.ip("link", "set", dev, "up", ns=ns.name)
    rh.ip("addr", "add", f"{rh.COA}/32", "dev", "lo", ns=ns.name)
    return ns


@pytest.fixture
def home_agent_lab(spaces):
    """The router's namespace (home link, uplink) and a client namespace behind the uplink (care-of 192.0.2.77)."""
    router_ns, client_ns = spaces.add("iosha"), spaces.add("iosmn")
    rh.ip("link", "add", HOME_IF, "type", "veth", "peer", "name", PEER_IF, ns=router_ns.name)
    rh.ip("addr", "add", f"{rh.HA_ADDRESS}/24", "dev", HOME_IF, ns=router_ns.name)
    for dev in (HOME_IF, PEER_IF):
        rh.ip("link", "set", dev, "up", ns=router_ns.name)
    spaces.veth(router_ns, UP_IF, "192.0.2.1/24", client_ns, CLIENT_IF, f"{rh.COA}/24")
    rh.ip("route", "add", "default", "via", "192.0.2.1", ns=client_ns.name)
    return router_ns, client_ns


def ha_config() -> dict:
    cfg = rh.config()
    cfg["home_agent"].update({"interface": HOME_IF, "virtual_networks": ["10.99.0.0/16"]})
    return cfg


def in_router(router: RouterProcess, ns: rh.Netns, commands: list[str] | None = None,
              config: list[str] | None = None, check: bool = True) -> list[str]:
    """Outputs of `config` lines (when not `check`) then of `commands`, over netmiko from inside the namespace."""

    def session() -> list[str]:
        conn = router.netmiko()
        try:
            conn.enable()
            outputs = []
            if config:
                sent = conn.send_config_set(config, error_pattern=ERRORS if check else "")
                if not check:
                    outputs.append(sent)
            return outputs + [conn.send_command(c) for c in commands or []]
        finally:
            conn.disconnect()

    return rh.in_netns(ns.name, session)


def wait_for_log(router: RouterProcess, text: str, timeout: float = 20.0, after: int = 0) -> str:
    """The router log once `text` appears in it past character `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = router.router_log()
        if text in log[after:]:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the router log:\n{router.router_log()[after:]}")


def register(ns: rh.Netns, spi: int = rh.SPI, key: bytes = rh.KEY, lifetime: int = 600) -> reg.RegistrationReply:
    """A signed request for 10.1.0.10 from the client namespace (care-of 192.0.2.77) to the router's UDP 434."""
    sock = rh.udp_socket(ns.name)
    try:
        data, _ident = rh.request(lifetime=lifetime, spi=spi, key=key)
        return rh.exchange(sock, data)
    finally:
        sock.close()


HA_INTERFACES = ("--interface", f"Ethernet0/0={HOME_IF}", "--interface", f"Ethernet0/1={UP_IF}")
HA_LINES = [
    "interface Ethernet0/0", "ip address 10.1.0.1 255.255.255.0",
    "interface Ethernet0/1", "ip address 192.0.2.1 255.255.255.0",
    "router mobile",
    "ip mobile home-agent lifetime 600",
    "ip mobile host 10.1.0.10 10.1.0.12 interface Ethernet0/0",
    f"ip mobile secure host {rh.HOME} spi {rh.SPI:X} key hex {rh.KEY_HEX} algorithm hmac-md5",
]


# ---------------------------------------------------------------------- home agent


def test_home_agent_configured_over_ssh_registers_and_reloads_keeping_the_binding(home_agent_lab, tmp_path: Path):
    router_ns, client_ns = home_agent_lab
    router = RouterProcess(tmp_path / "r1", "HA1", netns=router_ns.name, extra_args=HA_INTERFACES)
    router.start()
    try:
        assert "apply: no Mobile IP configuration: mipd stopped" in router.router_log()
        in_router(router, router_ns, [], HA_LINES)
        wait_for_log(router, "apply: mipd started")
        mipd_dir = router.state_dir / "mipd"
        config = yaml.safe_load((mipd_dir / "mipd.yaml").read_text())
        ha = config["home_agent"]
        assert (ha["address"], ha["interface"], ha["home_networks"], ha["max_lifetime"]) == (
            rh.HA_ADDRESS, HOME_IF, ["10.1.0.0/24"], 600)
        assert ha["mobile_hosts"] == ["10.1.0.10-10.1.0.12"]
        assert stat.S_IMODE((mipd_dir / "keys.yaml").stat().st_mode) == 0o600
        assert yaml.safe_load((mipd_dir / "keys.yaml").read_text())["security_associations"] == [
            {"peer": rh.HOME, "spi": rh.SPI, "algorithm": "hmac-md5", "key": rh.KEY_HEX, "key_format": "hex",
             "replay": "timestamp", "replay_window": 7, "fallback": False, "roles": ["home_agent"]}]

        reply = register(client_ns, lifetime=900)
        assert reply.code == codes.ACCEPTED and reply.lifetime == 600 and rh.reply_verifies(reply)
        binding, hosts, traffic, tunnels = in_router(router, router_ns, [
            "show ip mobile binding", "show ip mobile host", "show ip mobile traffic", "show ip mobile tunnel"])
        lines = binding.splitlines()
        assert lines[:4] == ["Mobility Binding List:", "Total 1", f"{rh.HOME}:",
                             f"    Care-of Addr {rh.COA}, Src Addr {rh.COA},"]
        assert lines[4].startswith("    Lifetime granted 00:10:00 (600), remaining ")
        assert hosts.splitlines()[:3] == ["10.1.0.10:", "    Allowed lifetime 00:10:00 (600/default)",
                                          "    Roaming status -Registered-, Home link on interface Ethernet0/0"]
        assert "10.1.0.12:" in hosts and hosts.count("-Unregistered-") == 2
        assert "    Requests received 1" in traffic.splitlines()
        assert "    Accepted 1, Deregistered 0" in traffic.splitlines()
        assert tunnels.splitlines()[:3] == ["Mobile Tunnels:", "Tunnel0:", f"    src {rh.HA_ADDRESS}, dest {rh.COA}"]
        assert "tunnel-users 1" in tunnels

        # Key rollover and a new lifetime: mipd reloads, the binding stays, the new SPI signs.
        mark = len(router.router_log())
        in_router(router, router_ns, [], [
            f"ip mobile secure host {rh.HOME} spi 102 key hex {KEY2_HEX} algorithm hmac-md5",
            "ip mobile home-agent lifetime 300"])
        wait_for_log(router, "apply: mipd reloaded", after=mark)
        (binding, globals_text) = in_router(router, router_ns, ["show ip mobile binding", "show ip mobile globals"])
        assert binding.splitlines()[1:3] == ["Total 1", f"{rh.HOME}:"]
        assert "    Registration lifetime: 00:05:00 (300 secs)" in globals_text.splitlines()
        reply = register(client_ns, spi=0x102, key=bytes.fromhex(KEY2_HEX), lifetime=900)
        assert reply.code == codes.ACCEPTED and reply.lifetime == 300
        assert register(client_ns).code == codes.ACCEPTED  # the old SPI too, until it is removed

        mark = len(router.router_log())
        in_router(router, router_ns, [], [f"no ip mobile secure host {rh.HOME} spi {rh.SPI:X}"])
        wait_for_log(router, "apply: mipd reloaded", after=mark)
        assert register(client_ns).code == codes.HA_MN_AUTH
        log = router.router_log()
        assert rh.KEY_HEX not in log and KEY2_HEX not in log
        mipd_pid = int(rh.Mipd(router_ns, mipd_dir / "mipd.yaml").ctl_json("status")["pid"])

        mark = len(router.router_log())
        in_router(router, router_ns, [], ["no router mobile"])  # Mobile IP off: the ip mobile lines stay
        log = wait_for_log(router, "mipd stopped (pid", after=mark)
        assert "translate: no router mobile: Mobile IP is off" in log
        (empty,) = in_router(router, router_ns, ["show ip mobile binding"])
        assert empty.splitlines() == ["Mobility Binding List:", "Total 0"]
    finally:
        assert router.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(mipd_pid, 0)


def test_wrong_configuration_is_refused_or_logged_and_mipd_keeps_the_last_good(home_agent_lab, tmp_path: Path):
    router_ns, client_ns = home_agent_lab
    router = RouterProcess(tmp_path / "r1", "HA1", netns=router_ns.name, extra_args=HA_INTERFACES)
    router.start()
    try:
        in_router(router, router_ns, [], HA_LINES)
        wait_for_log(router, "apply: mipd started")
        assert register(client_ns).code == codes.ACCEPTED
        good = (router.state_dir / "mipd" / "mipd.yaml").read_text()

        # A reserved SPI (0-255, RFC 5944 §1.6) is refused by the CLI grammar: it never reaches the configuration.
        (output,) = in_router(router, router_ns, [], [f"ip mobile secure host 10.1.0.11 spi FF key hex {KEY2_HEX}"],
                              check=False)
        assert "% Invalid input detected at '^' marker." in output
        (running,) = in_router(router, router_ns, ["show running-config | include secure"])
        assert "10.1.0.11" not in running

        # An 8-byte key: IOS takes it, the model refuses it (RFC 5944 §5.1): logged by field, mipd kept as it was.
        mark = len(router.router_log())
        in_router(router, router_ns, [], [f"ip mobile secure host 10.1.0.11 spi 103 key hex {SHORT_KEY_HEX}",
                                          "ip mobile home-agent lifetime 300"])
        log = wait_for_log(router, "apply: translation failed, mipd keeps its last configuration: "
                                   "security_associations[1].key: is 8 bytes", after=mark)
        assert SHORT_KEY_HEX not in log and rh.KEY_HEX not in log
        assert (router.state_dir / "mipd" / "mipd.yaml").read_text() == good
        (binding,) = in_router(router, router_ns, ["show ip mobile binding"])
        assert binding.splitlines()[1] == "Total 1"
        assert register(client_ns, lifetime=900).lifetime == 600  # still the last good lifetime

        # What mipd cannot do is logged by field and left out; the rest runs.
        mark = len(router.router_log())
        in_router(router, router_ns, [], ["no ip mobile secure host 10.1.0.11 spi 103",
                                          "ip mobile home-agent broadcast lifetime 300",
                                          "ip mobile tunnel path-mtu-discovery"])
        log = wait_for_log(router, "apply: mipd reloaded", after=mark)
        assert "translate: home_agent: ip mobile home-agent broadcast: not held by the model, left out" in log
        assert "translate: ip mobile tunnel path-mtu-discovery: not translated (mipd has no equivalent)" in log
        assert register(client_ns, lifetime=900).lifetime == 300
    finally:
        assert router.stop() == 0


# ---------------------------------------------------------------------- foreign agent

FA_SERVED, MN_IF, FA_UP, HA_UP = "fa-visit", "mn-eth", "fa-up", "ha-up"
FA_ADDRESS, CARE_OF, LINUX_HA_UP = "10.2.0.1", "172.16.20.1", "172.16.20.2"


FA_INTERFACES = ("--interface", f"Ethernet0/0={FA_UP}", "--interface", f"Ethernet0/1={FA_SERVED}")
FA_LINES = [
    "interface Ethernet0/0", f"ip address {CARE_OF} 255.255.255.0",
    "interface Ethernet0/1", f"ip address {FA_ADDRESS} 255.255.255.0", "ip irdp",
    "ip irdp maxadvertinterval 4", "ip mobile foreign-service registration-required",
    "router mobile", "ip mobile foreign-agent care-of Ethernet0/0",
    f"ip mobile secure home-agent {rh.HA_ADDRESS} spi 101 key hex {FA_KEY_HEX} algorithm hmac-md5",
]


@pytest.fixture
def foreign_agent_lab(spaces, tmp_path: Path):
    """The router's namespace (served link to the node's namespace, uplink to a Linux home agent's namespace)
    and the Linux home agent's mipd: (router_ns, mn_ns, ha_ns, linux_ha)."""
    router_ns, mn_ns, ha_ns = spaces.add("iosfa"), spaces.add("iosmn"), spaces.add("ioslha")
    spaces.veth(router_ns, FA_SERVED, f"{FA_ADDRESS}/24", mn_ns, MN_IF, None)
    spaces.veth(router_ns, FA_UP, f"{CARE_OF}/24", ha_ns, HA_UP, f"{LINUX_HA_UP}/24")
    rh.ip("addr", "add", f"{rh.HA_ADDRESS}/24", "dev", "lo", ns=ha_ns.name)
    rh.ip("route", "add", "10.1.0.0/24", "via", LINUX_HA_UP, ns=router_ns.name)
    ha_config_path = rh.write(tmp_path / "linux-ha", rh.config(dataplane={"backend": "none"}), {
        "security_associations": [
            {"peer": rh.HOME, "spi": rh.SPI, "key": rh.KEY_HEX},
            {"peer": CARE_OF, "spi": 0x101, "key": FA_KEY_HEX}]})
    linux_ha = rh.Mipd(ha_ns, ha_config_path).start()
    try:
        yield router_ns, mn_ns, ha_ns, linux_ha
    finally:
        linux_ha.stop()


def request_via_fa(mn: PacketSocket, home: str = rh.HOME, home_agent: str = rh.HA_ADDRESS) -> None:
    """A signed registration request from the node's link to the foreign agent (RFC 5944 §3.3, §3.7)."""
    ident = ntp_timestamp(time.time())
    data = sign(SecurityAssociation(home, rh.SPI, rh.KEY),
                reg.RegistrationRequest(0, 600, home, home_agent, CARE_OF, ident).encode(), MHAE)
    mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, home, FA_ADDRESS, 434, 434, data, ttl=1))


def test_foreign_agent_advertises_and_relays_to_a_linux_home_agent(foreign_agent_lab, tmp_path: Path):
    router_ns, mn_ns, _ha_ns, linux_ha = foreign_agent_lab
    router = RouterProcess(tmp_path / "r1", "FA1", netns=router_ns.name, extra_args=FA_INTERFACES)
    mn = None
    try:
        router.start()
        mn = rh.in_netns(mn_ns.name, lambda: PacketSocket(MN_IF, True, (icmp.ICMP_ROUTER_ADVERTISEMENT,)))
        in_router(router, router_ns, [], FA_LINES)
        wait_for_log(router, "apply: mipd started")
        fa = yaml.safe_load((router.state_dir / "mipd" / "mipd.yaml").read_text())["foreign_agent"]
        assert fa["interfaces"] == [{"name": FA_SERVED, "address": FA_ADDRESS, "prefix_length": 24,
                                     "care_of_addresses": [CARE_OF]}]

        _mac, rx = rh.receive(mn, lambda m, r: r.proto == 1, timeout=10.0)
        adv = icmp.decode(rx.payload)
        assert adv.flags & icmp.ADV_F and adv.flags & icmp.ADV_R and adv.care_of_addresses == [CARE_OF]
        assert rx.source == FA_ADDRESS

        request_via_fa(mn)
        _mac, rx = rh.receive(mn, lambda m, r: r.proto == 17 and r.payload[:1] == b"\x03", timeout=5.0)
        reply = reg.decode(rx.payload)
        assert reply.code == codes.ACCEPTED and rh.reply_verifies(reply) and rx.dest == rh.HOME
        assert [(b["home_address"], b["care_of_address"]) for b in linux_ha.ctl_json("bindings")] == [
            (rh.HOME, CARE_OF)]
        assert linux_ha.ctl_json("counters")["roles"]["home_agent"].get("security.fa_auth_failed", 0) == 0
        visitor, globals_text, traffic = in_router(router, router_ns, [
            "show ip mobile visitor", "show ip mobile globals", "show ip mobile traffic"])
        assert visitor.splitlines()[1:4] == ["Total 1", f"{rh.HOME}:",
                                             f"    Interface Ethernet0/1, MAC addr {_cisco_mac(mn.mac)}"]
        assert f"        Ethernet0/0 ({CARE_OF}) - up" in globals_text.splitlines()
        assert "    Request in 1, Forwarded 1, Denied 0, Ignored 0" in traffic.splitlines()
    finally:
        if mn is not None:
            mn.close()
        if router.proc is not None:
            assert router.stop() == 0


def _cisco_mac(mac: bytes) -> str:
    digits = mac.hex()
    return ".".join(digits[i:i + 4] for i in range(0, 12, 4))


# ---------------------------------------------------------------------- mobile router


def test_mobile_router_configuration_becomes_a_mipd_mobile_node(netns, tmp_path: Path):
    rh.ip("link", "add", "mr-roam", "type", "veth", "peer", "name", "mr-peer", ns=netns.name)
    settings = tmp_path / "settings.yaml"
    settings.write_text("dataplane: {backend: none}\nlog: {level: debug}\n")
    router = RouterProcess(tmp_path / "r1", "MR1", netns=netns.name,
                           extra_args=("--interface", "Ethernet0/0=mr-roam", "--interface", "Ethernet0/1",
                                       "--mipd-settings", str(settings)))
    router.start()
    try:
        in_router(router, netns, [], [
            "interface Ethernet0/0", "ip address 172.16.30.2 255.255.255.0", "ip mobile router-service roam",
            "router mobile", "ip mobile router", "address 10.99.0.11 255.255.0.0", "home-agent 10.1.0.1",
            "register lifetime 600", "reverse-tunnel", "mobile-network Ethernet0/1",
            f"ip mobile secure home-agent 10.1.0.1 spi 101 key hex {FA_KEY_HEX} algorithm hmac-md5"])
        log = wait_for_log(router, "apply: mipd started")
        status = rh.Mipd(netns, router.state_dir / "mipd" / "mipd.yaml").ctl_json("status")
        assert status["roles"] == ["mobile_node"]
        config = yaml.safe_load((router.state_dir / "mipd" / "mipd.yaml").read_text())
        assert (config["dataplane"], config["log"]) == ({"backend": "none"}, {"level": "debug"})
        mn = config["mobile_node"]
        assert (mn["home_address"], mn["home_prefix_length"], mn["home_agent"], mn["interfaces"], mn["lifetime"],
                mn["reverse_tunnel"]) == ("10.99.0.11", 16, "10.1.0.1", ["mr-roam"], 600, True)
        check = rh.MIPD, "check-config", str(router.state_dir / "mipd" / "mipd.yaml")
        result = netns.run(*check)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "translate: ip mobile router: mobile-network Ethernet0/1: not translated" in log
        (shown,) = in_router(router, netns, ["show ip mobile router"])
        assert shown.splitlines()[:10] == [
            "Mobile Router", "    Enabled", "    Last redundancy state transition NEVER", "", "Configuration:",
            "    Home Address 10.99.0.11 Mask 255.255.0.0", "    Home Agent 10.1.0.1 Priority 100 (best) (current)",
            "    Registration lifetime 600 sec", "    Retransmit Init 1000, Max 32000 msec, Limit 3",
            "    Extend Expire 120, Retry 3, Interval 10"]
        assert "    Reverse tunnel required" in shown.splitlines()
        assert "    Status -Unregistered-" in shown.splitlines()  # no agent heard on Ethernet0/0: nothing to register
    finally:
        assert router.stop() == 0


# ---------------------------------------------------------------------- the attachment itself


def test_show_ip_mobile_from_the_attached_mipd(netns, tmp_path: Path) -> None:
    config_path = rh.write(tmp_path / "mipd", ha_config())
    router = RouterProcess(tmp_path / "r1", "HA1", netns=netns.name,
                           extra_args=("--mipd-config", str(config_path), "--interface", f"Ethernet0/0={HOME_IF}"))
    router.start()
    try:
        globals_before, empty = in_router(router, netns, ["show ip mobile globals", "show ip mobile binding"])
        expected = ["IP Mobility global information:", "", "Home Agent",
                    "    Registration lifetime: 00:30:00 (1800 secs)"]
        assert globals_before.splitlines()[:4] == expected
        assert "        10.99.0.0/16" in globals_before
        assert empty.splitlines() == ["Mobility Binding List:", "Total 0"]
        sock = rh.udp_socket(netns.name)
        try:
            data, ident = rh.request(lifetime=600, flags=0x02)  # T: reverse tunnel (RFC 3024)
            assert rh.exchange(sock, data).code == 0
        finally:
            sock.close()
        (binding,) = in_router(router, netns, ["sh ip mob bind"])
        lines = binding.splitlines()
        assert lines[:4] == ["Mobility Binding List:", "Total 1", f"{rh.HOME}:",
                             f"    Care-of Addr {rh.COA}, Src Addr {rh.COA},"]
        assert lines[4].startswith("    Lifetime granted 00:10:00 (600), remaining 00:")
        assert lines[5].startswith("    Flags sbdmgvT, Identification ")
        assert lines[6:] == [f"    Tunnel0 src {rh.HA_ADDRESS} dest {rh.COA} reverse-allowed",
                             "    Routing Options - (T)Reverse-tunnel"]
        mipd_pid = int(rh.Mipd(netns, config_path).ctl_json("status")["pid"])
    finally:
        assert router.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(mipd_pid, 0)  # the router stopped its mipd


def test_without_translator_the_router_says_so(netns, tmp_path: Path) -> None:
    router = RouterProcess(tmp_path / "r1", netns=netns.name, extra_args=("--translator", "none")).start()
    try:
        in_router(router, netns, [], ["router mobile", "ip mobile home-agent"])
        wait_for_log(router, "apply: no translator configured: running configuration kept, mipd not reconfigured")
        assert not (router.state_dir / "mipd" / "mipd.yaml").exists()
    finally:
        router.stop()
