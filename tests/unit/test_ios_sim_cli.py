"""The IOS-like router's CLI engine (roles/lab/files/ios_sim), driven line by line without SSH.

The SSH path (echo, prompts as netmiko sees them, restarts) is in test_ios_sim_ssh.py; here the
grammar, the running configuration's IOS rendering, pipes, `no` forms, the session log's masking
and the show formatting, fast and exact.
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from ios_sim import cmdlog, mobileip_show
from ios_sim.grammar import Done, Kw, ParseError, alt, match, seq, tokenize
from ios_sim.router import Router, RouterOptions
from ios_sim.session import CTRL_Z, HelpRequest, Session

KEY = "7a1f39d04e5c8b2a6e9d0c3f1b2a4d5e"
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


class ScriptTerminal:
    """A terminal fed from a list of lines; keeps everything written (echo included, as over SSH)."""

    newline = "\n"

    def __init__(self, lines: list[str | HelpRequest]) -> None:
        self.lines = list(lines)
        self.written: list[str] = []

    def write(self, text: str) -> None:
        self.written.append(text)

    async def readline(self, echo: bool = True, initial: str = "") -> str | HelpRequest | None:
        """The next scripted line typed after `initial` (a HelpRequest: `?` typed after its text)."""
        if not self.lines:
            return None
        line = self.lines.pop(0)
        if isinstance(line, HelpRequest):
            self.written.append(line.text[len(initial):] + "?\n")
            return line
        self.written.append((line if echo and line != CTRL_Z else "") + "\n")
        return initial + line if line != CTRL_Z else line

    async def readkey(self) -> str | None:
        return self.lines.pop(0) if self.lines else None

    @property
    def text(self) -> str:
        return "".join(self.written)


def run(state_dir: Path, lines: list[str], privilege: int = 15, **options: object) -> tuple[Router, str]:
    """Boot a router in `state_dir`, run `lines` in one session; the router and the session's screen."""

    async def go() -> tuple[Router, str]:
        router = Router(RouterOptions("R1", state_dir, enable_secret="en-secret", **options))  # type: ignore[arg-type]
        await router.boot()
        terminal = ScriptTerminal(lines)
        session = Session(router, terminal, "admin", privilege, router.next_session())
        session.length = 0
        await session.run()
        router.cmdlog.close()
        return router, terminal.text

    return asyncio.run(go())


def config_of(state_dir: Path, *config_lines: str) -> tuple[Router, str]:
    return run(state_dir, ["configure terminal", *config_lines, "end"])


HA_LINES = [
    "router mobile",
    "ip mobile home-agent",
    "ip mobile virtual-network 10.99.0.0 255.255.0.0",
    "ip mobile host 10.99.0.11 10.99.0.20 virtual-network 10.99.0.0 255.255.0.0",
    f"ip mobile secure host 10.99.0.11 spi 100 key hex {KEY} algorithm md5 mode prefix-suffix",
    f"ip mobile secure foreign-agent 172.16.20.1 spi 101 key hex {KEY2} algorithm md5 mode prefix-suffix",
]


# ------------------------------------------------------------------ grammar


def test_abbreviations_ambiguity_and_carets(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["conf t", "ro mob", "ip mob home-a life 7200 bro", "end",
                                     "sh run | inc ^ip mobile home", "co", "configure terminal",
                                     "ip mobile home-agent lifetime 2", "ip mobile home-agent bogus", "ip mobile",
                                     "end"])
    assert "ip mobile home-agent broadcast lifetime 7200\n" in screen  # typed in another order, IOS order printed
    assert '% Ambiguous command:  "co"' in screen  # configure, copy
    prompt = "R1(config)#"
    out_of_range = prompt + "ip mobile home-agent lifetime 2\n" + " " * (len(prompt) + 30) + "^\n"
    assert out_of_range + "% Invalid input detected at '^' marker.\n" in screen
    bad_word = prompt + "ip mobile home-agent bogus\n" + " " * (len(prompt) + 21) + "^\n"
    assert bad_word in screen
    assert prompt + "ip mobile\n% Incomplete command.\n" in screen


def test_exact_keyword_wins_over_longer_one() -> None:
    """`host` typed in full is `host` even though `hostname` starts with it; `hos` is ambiguous."""
    tree = alt(seq(Kw("host"), Kw("a"), Done("host")), seq(Kw("hostname"), Kw("b"), Done("hostname")))
    assert match(tree, tokenize("host a"), "host a").command == "host"
    assert match(tree, tokenize("hostn b"), "hostn b").command == "hostname"
    with pytest.raises(ParseError) as error:
        match(tree, tokenize("hos a"), "hos a")
    assert error.value.kind == "ambiguous"


def test_user_exec_cannot_see_configuration(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["show running-config", "configure terminal", "show privilege"], privilege=1)
    assert screen.count("% Invalid input detected at '^' marker.") == 2
    assert "R1>show running-config\n" + " " * 8 + "^\n" in screen  # caret under running-config, after the prompt
    assert "Current privilege level is 1" in screen


def test_submode_falls_back_to_global_configuration(tmp_path: Path) -> None:
    """netmiko sends `interface X`, its lines, then a global line with no `exit`: IOS leaves the submode."""
    _router, screen = run(tmp_path, ["conf t", "interface e0/1", "ip mobile foreign-service registration-required",
                                     "ip mobile foreign-agent care-of Ethernet0/0", "ip mobile prefix-length", "end"])
    assert "R1(config-if)#ip mobile foreign-agent care-of Ethernet0/0\nR1(config)#" in screen
    assert "R1(config)#ip mobile prefix-length\n" in screen  # an interface command, not valid globally
    assert screen.count("% Invalid input") == 1


# ------------------------------------------------------------------ running configuration


def test_home_agent_running_config_in_ios_order(tmp_path: Path) -> None:
    router, _session = config_of(tmp_path, *reversed(HA_LINES[1:]), HA_LINES[0])
    lines = router.config.lines()
    assert lines[lines.index("router mobile"):] == ["router mobile", "!", *HA_LINES[1:4], HA_LINES[5], HA_LINES[4],
                                                    "!", "end"]


def test_defaults_hidden_and_secure_forms(tmp_path: Path) -> None:
    router, _session = config_of(
        tmp_path, "router mobile", "ip mobile home-agent lifetime 36000 replay 7 reverse-tunnel-off",
        f"ip mobile secure visitor 10.99.0.11 spi 1A2b key hex {KEY.upper()} replay timestamp 7",
        f"ip mobile secure home-agent 172.16.10.1 inbound-spi 100 outbound-spi 101 key hex {KEY2} algorithm hmac-md5 "
        "replay timestamp within 30",
        "ip mobile secure host nai mn@example.net spi 200 key ascii s3cr3t")
    text = router.config.text()
    assert "ip mobile home-agent reverse-tunnel-off\n" in text
    assert f"ip mobile secure visitor 10.99.0.11 spi 1A2B key hex {KEY} algorithm md5 mode prefix-suffix\n" in text
    assert (f"ip mobile secure home-agent 172.16.10.1 inbound-spi 100 outbound-spi 101 key hex {KEY2} "
            "replay timestamp within 30 algorithm hmac-md5\n") in text
    assert "ip mobile secure host nai mn@example.net spi 200 key ascii s3cr3t algorithm md5 mode prefix-suffix" in text


def test_no_forms(tmp_path: Path) -> None:
    lines = [*HA_LINES, f"ip mobile secure host 10.99.0.11 spi 102 key hex {KEY2}",
             "no ip mobile secure host 10.99.0.11 spi 100", "no ip mobile host 10.99.0.11 10.99.0.20",
             "interface Ethernet0/1", "ip irdp", "ip irdp holdtime 30", "ip irdp maxadvertinterval 10",
             "no ip irdp holdtime", "shutdown", "no shutdown", "exit", "no ip mobile foreign-agent care-of e0/0",
             "no ip mobile secure foreign-agent 172.16.20.1"]
    router, screen = config_of(tmp_path, *lines)
    assert "% " not in screen
    text = router.config.text()
    assert "spi 100 " not in text and "spi 102 " in text
    assert "ip mobile host" not in text and "ip mobile secure foreign-agent" not in text
    assert " ip irdp\n ip irdp maxadvertinterval 10\n!" in text and "holdtime" not in text and "shutdown" not in text


def test_interfaces_and_access_lists(tmp_path: Path) -> None:
    router, screen = config_of(
        tmp_path, "interface Loopback0", "ip address 10.255.0.1 255.255.255.255", "interface Ethernet0/0",
        "description home link", "ip address 172.16.10.1 255.255.255.0", "shutdown",
        "ip address 172.16.10.1 255.0.255.0", "access-list 10 permit 10.1.2.3 0.0.0.255", "access-list 10 deny any",
        "access-list 10 permit host 192.0.2.1", "ip access-list standard FA-OK", "permit 172.16.20.0 0.0.0.255",
        "deny any", "interface Ethernet9/9")
    assert "Bad mask 0xFF00FF00 for address 172.16.10.1" in screen
    prompt = "R1(config-std-nacl)#"  # typed in the access-list submode, refused by it and by global config
    assert prompt + "interface Ethernet9/9\n" + " " * (len(prompt) + 10) + "^\n" in screen  # no such hardware
    assert router.config.lines()[1:] == [
        "version 12.4", "!", "hostname R1", "!",
        "interface Loopback0", " ip address 10.255.0.1 255.255.255.255", "!",
        "interface Ethernet0/0", " description home link", " ip address 172.16.10.1 255.255.255.0", " shutdown", "!",
        "interface Ethernet0/1", " no ip address", "!",
        "ip access-list standard FA-OK", " permit 172.16.20.0 0.0.0.255", " deny   any", "!",
        "access-list 10 permit 10.1.2.0 0.0.0.255", "access-list 10 deny   any", "access-list 10 permit 192.0.2.1",
        "!", "end"]


def test_foreign_agent_and_mobile_router(tmp_path: Path) -> None:
    router, screen = config_of(
        tmp_path, "router mobile", "interface Ethernet0/1", "ip irdp", "ip mobile foreign-service reverse-tunnel "
        "mandatory limit 5 registration-required home-access FA-OK", "ip mobile registration-lifetime 600",
        "ip mobile router-service roam priority 10", "ip mobile foreign-agent care-of Ethernet0/0",
        "ip mobile foreign-agent reg-wait 60", "ip mobile router", "address 10.99.0.50 255.255.0.0",
        "home-agent 172.16.10.1", "register lifetime 600", "reverse-tunnel", "collocated single-tunnel",
        "ip mobile host nai mn@example.net address pool local POOL1 virtual-network 10.99.0.0 255.255.0.0 aaa load-sa "
        "lifetime 600")
    assert "% " not in screen
    text = router.config.text()
    assert (" ip irdp\n ip mobile foreign-service home-access FA-OK limit 5 registration-required reverse-tunnel "
            "mandatory\n ip mobile registration-lifetime 600\n ip mobile router-service roam priority 10\n") in text
    assert ("ip mobile router\n address 10.99.0.50 255.255.0.0\n home-agent 172.16.10.1\n register lifetime 600\n"
            " reverse-tunnel\n collocated single-tunnel\n!\n") in text
    assert ("ip mobile host nai mn@example.net address pool local POOL1 virtual-network 10.99.0.0 255.255.0.0 "
            "aaa load-sa lifetime 600\n") in text
    assert "ip mobile foreign-agent care-of Ethernet0/0\nip mobile foreign-agent reg-wait 60\n" in text


# ------------------------------------------------------------------ pipes


def test_pipes(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["conf t", *HA_LINES, "interface Ethernet0/1", "ip mobile prefix-length", "end",
                                     "show running-config | include ^ip mobile|^router mobile",
                                     "show running-config | section ^interface Ethernet0/1",
                                     "show running-config | begin ^router", "show running-config | exclude ip|!"])
    include = screen.split("| include ^ip mobile|^router mobile\n")[1].split("R1#")[0]
    assert include.splitlines() == ["router mobile", *HA_LINES[1:4], HA_LINES[5], HA_LINES[4]]
    section = screen.split("| section ^interface Ethernet0/1\n")[1].split("R1#")[0]
    assert section.splitlines() == ["interface Ethernet0/1", " no ip address", " ip mobile prefix-length"]
    begin = screen.split("| begin ^router\n")[1].split("R1#")[0]
    assert begin.splitlines()[0] == "router mobile" and begin.splitlines()[-2:] == ["end", ""]
    exclude = screen.split("| exclude ip|!\n")[1].split("R1#")[0]
    assert "ip" not in exclude and "router mobile" in exclude and "Building configuration..." in exclude


def test_section_switched_off_like_12_2(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["show running-config | section mobile", "show running-config | include host"],
                          pipe_section=False)
    assert "R1#show running-config | section mobile\n" + " " * 25 + "^\n% Invalid input" in screen
    assert "hostname R1" in screen


def test_paging_without_terminal_length_0(tmp_path: Path) -> None:
    async def go() -> str:
        router = Router(RouterOptions("R1", tmp_path))
        await router.boot()
        terminal = ScriptTerminal(["show running-config", " ", "q"])
        session = Session(router, terminal, "admin", 15, 1)
        session.length = 5
        await session.run()
        return terminal.text

    screen = asyncio.run(go())
    assert screen.count(" --More-- ") == 2 and "\nend\n" not in screen  # q stopped the listing


# ------------------------------------------------------------------ NVRAM, log


def test_write_memory_and_reload(tmp_path: Path) -> None:
    router, screen = run(tmp_path, ["conf t", *HA_LINES, "end", "copy running-config startup-config", "",
                                    "show startup-config"])
    assert "Destination filename [startup-config]? \nBuilding configuration...\n[OK]\n" in screen
    startup = tmp_path / "startup-config"
    assert stat.S_IMODE(startup.stat().st_mode) == 0o600  # it holds keys
    assert "Using " in screen and KEY in screen
    reloaded, _session = run(tmp_path, [])
    assert reloaded.config.text() == router.config.text()
    _erased, screen = run(tmp_path, ["write erase", "", "show startup-config"])
    assert "Erase of nvram: complete" in screen and "startup-config is not present" in screen


def test_session_log_masks_keys(tmp_path: Path) -> None:
    run(tmp_path, ["conf t", *HA_LINES, f"ip mobile secure host 10.99.0.12 spi 100 key hex {KEY}00 algorithm md6",
                   f"no ip mobile secure host 10.99.0.11 spi 100 key hex {KEY}", "end"])
    raw = (tmp_path / "commands.log").read_text()
    assert KEY not in raw and KEY2 not in raw
    entries = cmdlog.read(tmp_path / "commands.log")
    assert entries[0]["command"] == "conf t" and entries[0]["mode"] == "exec"
    assert entries[5]["command"] == "ip mobile secure host 10.99.0.11 spi 100 key hex ***** algorithm md5 mode " \
                                    "prefix-suffix"
    refused = entries[7]
    assert refused["command"].endswith("key hex ***** algorithm md6")  # refused after the key: the key masked
    assert refused["result"] == "% Invalid input detected at '^' marker."
    assert {"time", "session", "user", "mode", "command", "result"} <= set(entries[0])
    assert stat.S_IMODE((tmp_path / "commands.log").stat().st_mode) == 0o600
    assert all(json.dumps(e) for e in entries)


def test_enable_secret(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["enable", "wrong", "", "nope", "enable", "en-secret", "show privilege"],
                          privilege=1)
    assert "R1>enable\nPassword: \nPassword: \nPassword: \n% Bad secrets\n\nR1>" in screen
    assert "wrong" not in screen and "en-secret" not in screen  # echo off
    assert screen.endswith("Current privilege level is 15\nR1#")


def test_ctrl_z_leaves_configuration(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, ["conf t", "interface e0/0", CTRL_Z, "show privilege"])
    assert "R1(config-if)#\nR1#show privilege" in screen


# ------------------------------------------------------------------ show ip mobile formatting


def test_binding_and_visitor_layout() -> None:
    binding = {"home_address": "10.99.0.11", "care_of_address": "172.16.20.1", "lifetime": 10000,
               "lifetime_left": 9991, "identification": "c4f1a2b30a1b2c3d", "encap": "ipip", "reverse": True,
               "source": "172.16.20.1", "nai": None, "simultaneous": False}
    assert mobileip_show.bindings_text([binding], "172.16.10.1") == [
        "Mobility Binding List:", "Total 1", "10.99.0.11:",
        "    Care-of Addr 172.16.20.1, Src Addr 172.16.20.1,",
        "    Lifetime granted 02:46:40 (10000), remaining 02:46:31",
        "    Flags sbdmgvT, Identification C4F1A2B3.0A1B2C3D,",
        "    Tunnel0 src 172.16.10.1 dest 172.16.20.1 reverse-allowed",
        "    Routing Options - (T)Reverse-tunnel"]
    visitor = {"home_address": "10.99.0.11", "nai": None, "care_of_address": "172.16.20.1",
               "home_agent": "172.16.10.1", "interface": "fa-visit", "lladdr": "00:50:56:aa:0b:11",
               "lifetime_left": 9989, "identification": "c4f1a2b30a1b2c3d", "reverse_tunnel": True, "encap": "ipip",
               "delivery": "direct", "lifetime": 10000}
    assert mobileip_show.visitors_text([visitor], {"fa-visit": "Ethernet0/1"}) == [
        "Mobile Visitor List:", "Total 1", "10.99.0.11:",
        "    Interface Ethernet0/1, MAC addr 0050.56aa.0b11",
        "    IP src 10.99.0.11, dest 172.16.20.1, UDP src port 434",
        "    HA addr 172.16.10.1, Identification C4F1A2B3.0A1B2C3D",
        "    Lifetime 02:46:40 (10000) Remaining 02:46:29",
        "    Tunnel0 src 172.16.20.1 dest 172.16.10.1 reverse-allowed",
        "    Routing Options - (T)Reverse-tunnel"]
    assert mobileip_show.bindings_text([], "0.0.0.0") == ["Mobility Binding List:", "Total 0"]


def test_globals_layout() -> None:
    settings = {"home_agent": {"max_lifetime": 36000, "virtual_networks": ["10.99.0.0/16"]},
                "foreign_agent": {"interfaces": [{"name": "fa-up", "address": "172.16.20.1"}],
                                  "encapsulations": ["ipip", "gre"], "pending_timeout": 120}}
    text = mobileip_show.globals_text(["home_agent", "foreign_agent"], settings, {"fa-up": "Ethernet0/0"})
    assert text[:11] == ["IP Mobility global information:", "", "Home Agent",
                         "    Registration lifetime: 10:00:00 (36000 secs)", "    Broadcast disabled",
                         "    Replay protection time: 7 secs", "    Reverse tunnel enabled",
                         "    ICMP Unreachable enabled", "    Virtual networks", "        10.99.0.0/16", ""]
    assert "        Ethernet0/0 (172.16.20.1) - up" in text
    assert "        Encapsulations supported: IPIP and GRE" in text


def test_refused_lines_masked_only_where_a_key_can_be(tmp_path: Path) -> None:
    run(tmp_path, ["conf t", "ip mobile hostname", f"ip mobile secure host 10.0.0.1 spi 100 key hexx {KEY}",
                   f"ip mobile secure host 10.0.0.1 spi 100 key hex {KEY}0", "end"])
    assert [e["command"] for e in cmdlog.read(tmp_path / "commands.log")][1:4] == [
        "ip mobile hostname", "ip mobile secure host 10.0.0.1 spi 100 key ***** *****",
        "ip mobile secure host 10.0.0.1 spi 100 key hex *****"]


def test_question_mark_help(tmp_path: Path) -> None:
    """`?` answers at once, then the prompt and the line typed so far come back for more typing."""
    _router, screen = run(tmp_path, [HelpRequest("sh"), "ow privilege", HelpRequest("show ip mobile "),
                                     "binding", HelpRequest("show running-config | "), "include hostname",
                                     HelpRequest("show bogus "), ""])
    assert "R1#sh?\nshow  \n\nR1#show privilege\nCurrent privilege level is 15\n" in screen
    assert ("R1#show ip mobile ?\n  binding  Mobility bindings\n  globals  Mobile IP global information\n"
            "  host     Mobile node host\n  router   Mobile router information\n"
            "  secure   Mobile IP security association\n"
            "  traffic  Mobile IP protocol counters\n  tunnel   Mobile IP tunnels\n  visitor  Mobile visitors\n\n"
            "R1#show ip mobile binding\nMobility Binding List:\n") in screen
    assert "  begin    Begin with the line that matches\n" in screen
    assert "  section  Filter a section of output" in screen
    assert "R1#show running-config | include hostname\nhostname R1\n" in screen
    assert "R1#show bogus ?\n% Unrecognized command\n" in screen


def test_pipe_only_after_exec_commands(tmp_path: Path) -> None:
    router, screen = config_of(tmp_path, "interface Ethernet0/0", "description uplink | to ha", "exit",
                               "do show running-config | include description")
    assert " description uplink | to ha" in router.config.text()
    assert "R1(config)#do show running-config | include description\n description uplink | to ha\n" in screen


def test_session_ending_in_configuration_mode_is_applied(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The client goes away in configuration mode: its lines are applied anyway (IOS applies each line)."""
    caplog.set_level("INFO", logger="ios_sim")

    async def go() -> None:
        router = Router(RouterOptions("R1", tmp_path))
        await router.boot()
        await Session(router, ScriptTerminal(["configure terminal", "router mobile"]), "admin", 15, 1).run()

    asyncio.run(go())
    applies = [r.getMessage() for r in caplog.records if r.getMessage().startswith("apply:")]
    assert len(applies) == 2  # at boot, and for the session's `router mobile`
    assert "configured by admin on vty session 1" in caplog.text


def test_show_ip_mobile_secure_from_the_running_config(tmp_path: Path) -> None:
    _router, screen = run(tmp_path, [
        "conf t", f"ip mobile secure host 10.99.0.11 spi 100 key hex {KEY.upper()}",
        f"ip mobile secure foreign-agent 172.16.20.1 inbound-spi 101 outbound-spi 102 key hex {KEY2} "
        "algorithm hmac-md5 replay timestamp within 10", "end", "show ip mobile secure",
        "sh ip mob sec host 10.99.0.11", "show ip mobile secure visitor"])
    assert ("R1#show ip mobile secure\nSecurity Associations (algorithm,mode,replay protection,key):\n"
            f"172.16.20.1\n    SPI In 101, Out 102,  HMAC-MD5, Timestamp +/- 10,\n    Key {KEY2}\n"
            f"10.99.0.11\n    SPI 100,  MD5, Prefix-suffix, Timestamp +/- 7,\n    Key {KEY}\nR1#") in screen
    assert ("R1#sh ip mob sec host 10.99.0.11\nSecurity Associations (algorithm,mode,replay protection,key):\n"
            "10.99.0.11\n") in screen
    assert screen.endswith("R1#show ip mobile secure visitor\n"
                           "Security Associations (algorithm,mode,replay protection,key):\nR1#")
