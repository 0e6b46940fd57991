"""The simulator's translator offline: IOS running configurations of a home agent, a foreign agent
and a mobile router go through the collection's IOS parser and Linux renderer into mipd files that
`mipd check-config` accepts; what mipd cannot do is noted by field, what the model refuses names
its field, keys never appear in either. And the show layouts built from mipd's tables and counters."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mobileip_helpers as h
import pytest
import yaml
from ios_sim import mobileip_show as show
from ios_sim.translator import Translation, TranslationRefused, translate, translation

KEY = "6d69706420746573742073656372657421"
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
HA_TEXT = f"""Building configuration...

Current configuration : 900 bytes
!
version 12.4
hostname HA1
!
interface Ethernet0/0
 ip address 10.1.0.1 255.255.255.0
 ip irdp
 ip irdp maxadvertinterval 10
!
interface Ethernet0/1
 ip address 192.0.2.1 255.255.255.0
!
router mobile
!
ip mobile home-agent care-of-access 90 lifetime 600
ip mobile virtual-network 10.99.0.0 255.255.0.0
ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0
ip mobile host 10.99.0.11 virtual-network 10.99.0.0 255.255.0.0
ip mobile secure host 10.1.0.10 spi 101 key hex {KEY} algorithm hmac-md5
ip mobile secure host 10.1.0.10 spi 102 key hex {KEY2} algorithm md5 mode prefix-suffix
ip mobile secure foreign-agent 172.16.20.1 spi 200 key hex {KEY2} algorithm hmac-md5
!
access-list 90 deny 198.51.100.0 0.0.0.255
access-list 90 permit any
!
end
"""
HA_LINKS = {"Ethernet0/0": "ha-home", "Ethernet0/1": "ha-up"}
FA_TEXT = f"""hostname FA1
!
interface Ethernet0/0
 ip address 172.16.20.1 255.255.255.0
!
interface Ethernet0/1
 ip address 10.2.0.1 255.255.255.0
 ip irdp
 ip irdp maxadvertinterval 4
 ip irdp holdtime 12
 ip mobile foreign-service registration-required reverse-tunnel
 ip mobile registration-lifetime 600
 ip mobile prefix-length
!
interface Ethernet0/2
 ip address 10.3.0.1 255.255.255.0
 ip irdp
 ip irdp maxadvertinterval 4
 ip irdp holdtime 12
 ip mobile foreign-service registration-required reverse-tunnel
 ip mobile registration-lifetime 600
 ip mobile prefix-length
!
router mobile
!
ip mobile foreign-agent care-of Ethernet0/0
ip mobile foreign-agent reg-wait 60
ip mobile secure home-agent 10.1.0.1 spi 101 key hex {KEY2} algorithm hmac-md5
ip mobile secure visitor 10.1.0.10 spi 300 key hex {KEY} algorithm hmac-md5
end
"""
MR_TEXT = f"""hostname MR1
!
interface Ethernet0/0
 ip address 172.16.30.2 255.255.255.0
 ip mobile router-service roam
!
interface Ethernet0/1
 ip address 10.99.1.1 255.255.255.0
!
router mobile
!
ip mobile router
 address 10.99.0.11 255.255.0.0
 home-agent 10.1.0.1
 mobile-network Ethernet0/1
 register lifetime 600
 reverse-tunnel
!
ip mobile secure home-agent 10.1.0.1 spi 101 key hex {KEY2} algorithm hmac-md5
end
"""


def check_config(tmp_path: Path, done: Translation) -> subprocess.CompletedProcess[str]:
    """`mipd check-config` on the translated files, written as the router's applier writes them."""
    assert done.files is not None
    config = {**done.files.config, "keys_file": str(tmp_path / "keys.yaml"),
              "control_socket": str(tmp_path / "mipd.sock"), "state_db": str(tmp_path / "state.db")}
    (tmp_path / "mipd.yaml").write_text(yaml.safe_dump(config))
    fd = os.open(tmp_path / "keys.yaml", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(done.files.keys))
    return subprocess.run([str(h.VENV_BIN / "mipd"), "check-config", str(tmp_path / "mipd.yaml")],
                          capture_output=True, text=True, timeout=60, check=False)


# ---------------------------------------------------------------------- one model, both platforms


def test_home_agent_running_config_becomes_a_mipd_home_agent(tmp_path: Path) -> None:
    done = translation(HA_TEXT, HA_LINKS)
    assert done.notes == []
    ha = done.files.config["home_agent"]
    assert (ha["address"], ha["interface"], ha["home_networks"], ha["virtual_networks"]) == (
        "10.1.0.1", "ha-home", ["10.1.0.0/24"], ["10.99.0.0/16"])
    assert (ha["mobile_hosts"], ha["max_lifetime"], ha["reverse_tunnel"]) == (
        ["10.1.0.10-10.1.0.20", "10.99.0.11"], 600, True)
    assert ha["advertisement"] == {"interval": 10.0, "lifetime": 30, "code": 16, "enabled": True}
    assert ha["filters"] == {"care_of": {"default": "permit", "rules": [{"action": "deny",
                                                                         "prefix": "198.51.100.0/24"}]}}
    sas = done.files.keys["security_associations"]
    assert [(sa["peer"], sa["spi"], sa["algorithm"], sa["roles"]) for sa in sas] == [
        ("10.1.0.10", 0x101, "hmac-md5", ["home_agent"]), ("10.1.0.10", 0x102, "md5-prefix-suffix", ["home_agent"]),
        ("172.16.20.1", 0x200, "hmac-md5", ["home_agent"])]
    assert sas[0]["key"] == KEY and "kind" not in sas[0]  # mipd looks SAs up by peer and SPI
    result = check_config(tmp_path, done)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "roles home_agent; 3 security associations" in result.stdout


def test_foreign_agent_running_config_becomes_a_mipd_foreign_agent(tmp_path: Path) -> None:
    done = translation(FA_TEXT, {"Ethernet0/0": "fa-up", "Ethernet0/1": "fa-visit", "Ethernet0/2": "fa-visit2"})
    assert done.notes == []
    fa = done.files.config["foreign_agent"]
    assert fa["interfaces"] == [
        {"name": "fa-visit", "address": "10.2.0.1", "prefix_length": 24, "care_of_addresses": ["172.16.20.1"]},
        {"name": "fa-visit2", "address": "10.3.0.1", "prefix_length": 24, "care_of_addresses": ["172.16.20.1"]}]
    assert (fa["registration_required"], fa["reverse_tunnel"], fa["registration_lifetime"], fa["pending_timeout"]) == (
        True, "offered", 600, 60.0)
    assert (fa["advertisement"]["interval"], fa["advertisement"]["lifetime"]) == (4.0, 12)
    assert [sa["roles"] for sa in done.files.keys["security_associations"]] == [
        ["foreign_agent", "mobile_node"], ["foreign_agent"]]
    result = check_config(tmp_path, done)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mobile_router_running_config_becomes_a_mipd_mobile_node(tmp_path: Path) -> None:
    done = translation(MR_TEXT, {"Ethernet0/0": "mr-roam", "Ethernet0/1": None})
    mn = done.files.config["mobile_node"]
    assert (mn["home_address"], mn["home_prefix_length"], mn["home_agent"], mn["interfaces"]) == (
        "10.99.0.11", 16, "10.1.0.1", ["mr-roam"])
    assert (mn["lifetime"], mn["reverse_tunnel"], mn["encapsulation"]) == (600, True, "ipip")
    assert done.notes == ["ip mobile router: mobile-network Ethernet0/1: not translated (mipd has no equivalent)"]
    result = check_config(tmp_path, done)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "roles mobile_node" in result.stdout


def test_no_mobile_ip_and_mobile_ip_off_give_no_mipd() -> None:
    assert translation("hostname R1\n!\ninterface Ethernet0/0\n no ip address\n!\nend\n", {}).files is None
    assert translation("hostname R1\nrouter mobile\nend\n", {}).files is None  # no role configured
    off = translation(HA_TEXT.replace("router mobile\n", ""), HA_LINKS)
    assert off.files is None and off.notes == ["no router mobile: Mobile IP is off (the ip mobile lines are kept)"]


# ---------------------------------------------------------------------- left out, by field


def test_what_mipd_cannot_do_is_noted_by_field_and_left_out() -> None:
    text = HA_TEXT.replace("ip mobile home-agent care-of-access 90 lifetime 600",
                           "ip mobile home-agent broadcast care-of-access 90 lifetime 600 replay 10")
    text = text.replace("interface Ethernet0/0\n ip address 10.1.0.1 255.255.255.0\n",
                        "interface Ethernet0/0\n ip address 10.1.0.1 255.255.255.0\n ip mobile arp-timeout 5\n")
    text = text.replace("!\naccess-list", f"ip mobile secure host 10.1.0.30 10.1.0.31 spi 400 key hex {KEY} "
                                          "algorithm hmac-md5\nip mobile tunnel path-mtu-discovery\n!\naccess-list")
    text = text.replace("ip mobile host 10.99.0.11 virtual-network 10.99.0.0 255.255.0.0",
                        "ip mobile host 10.99.0.11 virtual-network 10.99.0.0 255.255.0.0 lifetime 300")
    done = translation(text, HA_LINKS)
    assert done.files is not None and done.files.config["home_agent"]["max_lifetime"] == 600
    assert done.notes == [
        "home_agent: ip mobile home-agent broadcast: not held by the model, left out",
        "home_agent: ip mobile home-agent replay 10 (the model's replay window is per security association): "
        "not held by the model, left out",
        "home_agent: ip mobile host 10.99.0.11 virtual-network 10.99.0.0 255.255.0.0: lifetime 300: "
        "not held by the model, left out",
        "security_associations: ip mobile secure host 10.1.0.30 spi 400: an address range (the model's peer is one "
        "address or NAI): not held by the model, left out",
        "ip mobile tunnel path-mtu-discovery: not translated (mipd has no equivalent)",
        "interface Ethernet0/0: ip mobile arp-timeout 5: not translated (mipd has no equivalent)"]
    assert all(KEY not in note and KEY2 not in note for note in done.notes)


def test_a_served_interface_without_a_linux_link_is_left_out() -> None:
    done = translation(FA_TEXT, {"Ethernet0/0": "fa-up", "Ethernet0/1": "fa-visit", "Ethernet0/2": None})
    assert [i["name"] for i in done.files.config["foreign_agent"]["interfaces"]] == ["fa-visit"]
    assert done.notes == ["foreign_agent.interfaces[1]: Ethernet0/2 stands for no Linux link of this router "
                          "(--interface Ethernet0/2=LINK): left out"]


def test_translate_logs_the_notes_as_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="ios_sim.translator"):
        files = translate(MR_TEXT, {"Ethernet0/0": "mr-roam"})
    assert files is not None
    assert caplog.messages == ["translate: ip mobile router: mobile-network Ethernet0/1: not translated "
                               "(mipd has no equivalent)"]


# ---------------------------------------------------------------------- refused, by field, without keys


@pytest.mark.parametrize(("change", "links", "path", "message"), [
    ((f"spi 102 key hex {KEY2}", "spi 102 key hex 0011223344556677"), HA_LINKS,
     "security_associations[1].key", "is 8 bytes"),
    (("", ""), {"Ethernet0/1": "ha-up"}, "home_agent.interface", "Ethernet0/0 stands for no Linux link"),
    (("interface Ethernet0/0\n ip address 10.1.0.1 255.255.255.0\n", "interface Ethernet0/0\n"), HA_LINKS,
     "home_agent.address", "is required"),
    (("ip mobile secure foreign-agent 172.16.20.1 spi 200", "ip mobile secure visitor 10.1.0.10 spi 101"), HA_LINKS,
     "security_associations[2].spi", "is listed twice"),
])
def test_what_the_model_refuses_names_the_field_and_no_key(change: tuple[str, str], links: dict[str, str],
                                                           path: str, message: str) -> None:
    text = HA_TEXT.replace(*change) if change[0] else HA_TEXT
    with pytest.raises(TranslationRefused) as refused:
        translation(text, links)
    assert refused.value.path.startswith(path) and message in refused.value.message
    assert all(key not in str(refused.value) for key in (KEY, KEY2, "0011223344556677"))


def test_a_mobile_router_without_an_sa_with_its_home_agent_is_refused() -> None:
    text = MR_TEXT.replace(f"ip mobile secure home-agent 10.1.0.1 spi 101 key hex {KEY2} algorithm hmac-md5\n", "")
    with pytest.raises(TranslationRefused, match="security association with its home agent 10.1.0.1"):
        translation(text, {"Ethernet0/0": "mr-roam"})


def test_the_translated_files_round_trip_through_the_linux_platform() -> None:
    """What the Linux modules would read back from the files is what the IOS platform read: one model."""
    from ansible_collections.netmobility.mobileip.plugins.module_utils import model
    from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.platform import IosPlatform
    from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.platform import (
        LinuxPlatform,
    )

    done = translation(HA_TEXT, HA_LINKS)
    linux, ios = LinuxPlatform(), IosPlatform()
    main_text, keys_text = yaml.safe_dump(done.files.config), yaml.safe_dump(done.files.keys)
    from_ios = ios.parse(model.RESOURCES["home_agent"], HA_TEXT)
    assert linux.parse(model.RESOURCES["home_agent"], main_text) == {**from_ios, "interface": "ha-home"}
    sas = linux.parse(model.RESOURCES["security_associations"], keys_text)
    assert [(sa["peer"], sa["spi"], sa["key"]) for sa in sas] == [
        (sa["peer"], sa["spi"], sa["key"]) for sa in ios.parse(model.RESOURCES["security_associations"], HA_TEXT)]


# ---------------------------------------------------------------------- show layouts


def test_show_ip_mobile_host_layout() -> None:
    hosts = [{"lower": "10.99.0.11", "upper": "10.99.0.12", "network": "10.99.0.0", "mask": "255.255.0.0"},
             {"lower": "10.1.0.10", "interface": "Ethernet0/0", "lifetime": 600},
             {"nai": "mn@example.net", "static": ["10.1.0.30"], "interface": "Ethernet0/0"}]
    text = show.hosts_text(show.host_entries(hosts, 36000), [{"home_address": "10.99.0.11"}])
    assert text == [
        "10.99.0.11:", "    Allowed lifetime 10:00:00 (36000/default)",
        "    Roaming status -Registered-, Home link on virtual network 10.99.0.0/16",
        "10.99.0.12:", "    Allowed lifetime 10:00:00 (36000/default)",
        "    Roaming status -Unregistered-, Home link on virtual network 10.99.0.0/16",
        "10.1.0.10:", "    Allowed lifetime 00:10:00 (600)",
        "    Roaming status -Unregistered-, Home link on interface Ethernet0/0",
        "10.1.0.30:", "    Allowed lifetime 10:00:00 (36000/default)",
        "    Roaming status -Unregistered-, Home link on interface Ethernet0/0"]


def test_show_ip_mobile_host_is_bounded() -> None:
    hosts = [{"lower": "10.99.0.0", "upper": "10.99.255.255", "network": "10.99.0.0", "mask": "255.255.0.0"}]
    text = show.hosts_text(show.host_entries(hosts, 36000), [])
    assert len(text) == 3 * show.MAX_HOST_ENTRIES + 1 and text[-1].startswith("... more hosts not shown")


def test_show_ip_mobile_traffic_from_mipctl_counters() -> None:
    counters = {"roles": {
        "home_agent": {"rx.request": 8, "accepted.registration": 6, "accepted.deregistration": 1, "denied.131": 1,
                       "discard.no_sa": 1, "rx.solicitation": 2, "tx.advertisement": 120},
        "foreign_agent": {"rx.request": 3, "relayed.request": 2, "denied.70": 1, "rx.reply": 2, "reply.0": 1,
                          "reply.131": 1, "relayed.reply": 2, "tx.advertisement": 5}}}
    text = show.traffic_text(counters)
    assert text[:4] == ["IP Mobility traffic:", "Advertisements:", "    Solicitations received 2",
                        "    Advertisements sent 125"]
    assert "    Requests received 8" in text and "    Accepted 7, Deregistered 1" in text
    assert "    Denied 1, Ignored 1" in text and "    Authentication failed MN 1, FA 0" in text
    assert "    Request in 3, Forwarded 2, Denied 1, Ignored 0" in text
    assert "    Bad lifetime 0, Bad request form 1" in text and "    Accepted 1, Denied 1, Forwarded 2" in text
    assert show.traffic_text({}) == ["IP Mobility traffic:", "Advertisements:", "    Solicitations received 0",
                                     "    Advertisements sent 0"]


def test_show_ip_mobile_tunnel_from_bindings_visitors_and_kernel_devices() -> None:
    bindings = [{"care_of_address": "172.16.20.1", "encap": "ipip", "reverse": True},
                {"care_of_address": "172.16.20.1", "encap": "ipip", "reverse": False},
                {"care_of_address": "192.0.2.77", "encap": "gre", "reverse": False}]
    tunnels = show.tunnels_of(bindings, [], "10.1.0.1")
    counts = {"mtu": 1480, "rx": {"packets": 3, "bytes": 252, "dropped": 0}, "tx": {"packets": 4, "bytes": 336}}
    devices = {("10.1.0.1", "172.16.20.1"): counts}
    assert show.tunnels_text(tunnels, devices) == [
        "Mobile Tunnels:", "Tunnel0:", "    src 10.1.0.1, dest 172.16.20.1",
        "    encaps IP/IP, mode reverse-allowed, tunnel-users 2", "    IP MTU 1480 bytes",
        "    HA created, fast switching enabled, ICMP unreachable enabled",
        "    3 packets input, 252 bytes, 0 drops", "    4 packets output, 336 bytes",
        "Tunnel1:", "    src 10.1.0.1, dest 192.0.2.77",
        "    encaps GRE/IP, mode forward-only, tunnel-users 1", "    IP MTU 1476 bytes",
        "    HA created, fast switching enabled, ICMP unreachable enabled"]
    visitors = [{"care_of_address": "172.16.20.1", "home_agent": "10.1.0.1", "encap": "ipip", "reverse_tunnel": True},
                {"care_of_address": "10.2.0.50", "home_agent": "10.1.0.1", "colocated": True}]
    assert show.tunnels_of([], visitors, "0.0.0.0") == [
        {"src": "172.16.20.1", "dest": "10.1.0.1", "encap": "ipip", "users": 1, "reverse": True, "creator": "FA"}]


def test_tunnel_devices_from_ip_json() -> None:
    """The kernel's tunnel devices as `ip -s -d -j link` prints them (iproute2's JSON), others ignored."""
    links = [{"ifname": "lo", "mtu": 65536, "linkinfo": None},
             {"ifname": "mip-t0", "mtu": 1480, "linkinfo": {"info_kind": "ipip", "info_data": {
                 "proto": "ip4ip4", "remote": "172.16.20.1", "local": "10.1.0.1", "ttl": 0}},
              "stats64": {"rx": {"bytes": 252, "packets": 3, "errors": 0, "dropped": 1},
                          "tx": {"bytes": 336, "packets": 4, "errors": 0, "dropped": 0}}},
             {"ifname": "ha-home", "mtu": 1500, "linkinfo": {"info_kind": "veth"}}]
    assert show.tunnel_devices(links) == {("10.1.0.1", "172.16.20.1"): {
        "mtu": 1480, "rx": {"bytes": 252, "packets": 3, "errors": 0, "dropped": 1},
        "tx": {"bytes": 336, "packets": 4, "errors": 0, "dropped": 0}}}


def test_mipd_settings_file_takes_only_daemon_settings(tmp_path: Path) -> None:
    from ios_sim.mipd_attach import load_settings

    good = tmp_path / "settings.yaml"
    good.write_text("dataplane: {backend: none}\nlog: {level: debug}\n")
    assert load_settings(good) == {"dataplane": {"backend": "none"}, "log": {"level": "debug"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("home_agent: {address: 10.1.0.1}\n")
    with pytest.raises(ValueError, match="home_agent: not a daemon setting"):
        load_settings(bad)
