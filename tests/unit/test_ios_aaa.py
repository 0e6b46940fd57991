"""aaa on IOS-like routers (issue 12): the model <-> `aaa authorization ipmobile`, `radius-server host ... key`,
`radius-server timeout|retransmit|deadtime` and `aaa load-sa` on the home agent's host lines; offline (render,
parse, commands, what IOS cannot hold, what the model cannot express) and pushed to the IOS-like router over
SSH by ansible-playbook, with the shared secrets in no output, even at -vvv."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.platform import (
    KINDS,
    IosPlatform,
    RunningConfig,
)
from test_ios_platform import HA, INTERFACES, change, full, sent_text

IOS = IosPlatform()
RES = model.RESOURCES["aaa"]
SECRET = "radius-secret-of-16-bytes"
SECRET2 = "another-radius-secret-2"
AAA = {"servers": [{"address": "192.0.2.50", "secret": SECRET}, {"address": "192.0.2.51", "secret": SECRET2}],
       "retries": 3, "dead_time": 60, "timeout": 5}


def test_rendered_lines_mask_the_secrets():
    rendered = IOS.render(RES, full("aaa", AAA))
    assert rendered == ("aaa new-model\naaa authorization ipmobile default group radius\n"
                        "radius-server host 192.0.2.50 auth-port 1812 key ********\n"
                        "radius-server host 192.0.2.51 auth-port 1812 key ********\n"
                        "radius-server deadtime 1\n")


def test_home_agent_hosts_carry_aaa_load_sa_while_the_router_uses_aaa():
    running = sent_text("home_agent", full("home_agent", HA))
    _before, _after, commands = change("aaa", "merged", AAA, running)
    assert "ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0 aaa load-sa" in commands.shown
    assert "ip mobile host nai mn@example.net static-address 10.1.0.30 10.1.0.31 interface Ethernet0/0 aaa load-sa" \
        in commands.shown
    assert f"key {SECRET}" in " ".join(commands.sent()) and SECRET not in " ".join(commands.shown)
    with_aaa = sent_text("aaa", full("aaa", AAA), running)
    assert IOS.parse(RES, with_aaa) == full("aaa", AAA) and IOS.unheld(RES, with_aaa) == []
    # the home agent module keeps the flags when it rewrites its host lines
    _b, _a, ha_commands = change("home_agent", "merged", {"mobile_hosts": ["10.1.0.40"]}, with_aaa)
    assert ha_commands.shown == ["ip mobile host 10.1.0.40 interface Ethernet0/0 aaa load-sa"]
    _b, after, gone = change("aaa", "deleted", None, with_aaa)
    assert after is None and "no aaa authorization ipmobile default group radius" in gone.shown
    assert "no aaa new-model" not in gone.shown  # logins may use it: left alone
    assert "ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0" in gone.shown


def test_a_second_change_sends_only_the_difference():
    running = INTERFACES + "aaa new-model\naaa authorization ipmobile default group radius\n" \
        f"radius-server host 192.0.2.50 auth-port 1812 acct-port 1646 key {SECRET}\n"
    _before, _after, commands = change("aaa", "merged", {"servers": [{"address": "192.0.2.51", "secret": SECRET2}],
                                                         "dead_time": 120}, running)
    # merged: the router's timeout (5 s) and retransmit (3) stay as they are
    assert commands.shown == ["radius-server host 192.0.2.51 auth-port 1812 key ********", "radius-server deadtime 2"]


def test_servers_already_on_the_router_cannot_be_reordered():
    running = INTERFACES + "aaa authorization ipmobile default group radius\n" \
        f"radius-server host 192.0.2.50 auth-port 1812 key {SECRET}\nradius-server host 192.0.2.51 auth-port 1812 " \
        f"key {SECRET2}\n"
    reordered = {"servers": [{"address": "192.0.2.51"}, {"address": "192.0.2.50"}], "dead_time": 0}
    with pytest.raises(ModelError, match=r"config.servers: 192.0.2.51, 192.0.2.50: an IOS-like router keeps"):
        change("aaa", "replaced", reordered, running)
    new_first = {"servers": [{"address": "192.0.2.9", "secret": SECRET}, {"address": "192.0.2.50"}], "dead_time": 0}
    with pytest.raises(ModelError, match="adds new ones last"):
        change("aaa", "overridden", new_first, running)


UNSUPPORTED = [
    ({"dead_time": 30}, "config.dead_time"),
    ({"timeout": 2.5}, "config.timeout"),
    ({"cache_lifetime": 3600}, "config.cache_lifetime"),
    ({"source_address": "10.1.0.1"}, "config.source_address"),
    ({"lookup_rate": 10}, "config.lookup_rate"),
    ({"servers": [{"address": "192.0.2.50", "secret": "xyzzy plugh 12345678"}]}, "config.servers[0].secret"),
]


@pytest.mark.parametrize(("extra", "named"), UNSUPPORTED, ids=[n for _e, n in UNSUPPORTED])
def test_what_ios_cannot_hold_is_refused_naming_the_option(extra, named):
    errors = IOS.unsupported(RES, full("aaa", {**AAA, **extra}))
    assert [e.path for e in errors] == [named], [str(e) for e in errors]
    assert "xyzzy" not in str(errors[0]) and SECRET not in str(errors[0])


def test_what_the_model_cannot_express_is_named():
    text = INTERFACES + "aaa authorization ipmobile tacacs+\nradius-server host 192.0.2.50 key 7 0822455D0A16\n" \
        "radius-server host 192.0.2.51 auth-port 1812 key k timeout 3\nip mobile home-agent address 10.1.0.1\n" \
        "ip mobile host 10.1.0.10 interface Ethernet0/0 aaa\n"
    notes = IOS.unheld(RES, text)
    assert any(n.startswith("aaa authorization ipmobile tacacs+: the model fetches SAs") for n in notes)
    assert "radius-server host 192.0.2.50: an encrypted key (key 7) cannot be compared with the model's secret" in notes
    assert "radius-server host 192.0.2.51: timeout 3" in notes
    assert any(n.startswith("ip mobile host 10.1.0.10: without `aaa load-sa`") for n in notes)
    no_aaa = INTERFACES + "ip mobile home-agent address 10.1.0.1\nip mobile host 10.1.0.10 interface Ethernet0/0 aaa\n"
    assert "ip mobile host 10.1.0.10 interface Ethernet0/0: aaa" in IOS.unheld(model.RESOURCES["home_agent"], no_aaa)


def test_a_global_radius_key_is_read_for_servers_without_their_own():
    text = "aaa new-model\naaa authorization ipmobile default group radius\nradius-server host 192.0.2.50\n" \
        f"radius-server key {SECRET}\n"
    value = IOS.parse(RES, text)
    assert value["servers"] == [{"address": "192.0.2.50", "port": 1645, "secret": SECRET}]
    assert IOS.secrets(text) == [SECRET]
    assert changes.masked(RES.field, value)["servers"][0]["secret_fingerprint"].startswith("sha256:")
    config = RunningConfig(text, list(KINDS.values()))
    after = states.build(RES, "merged", value, states.want(RES, "merged", {"retries": 3}))
    assert IOS.change(RES, config, value, after).commands.shown == []  # nothing else to send; the key line stays


# ---------------------------------------------------------------------- pushed to the IOS-like router


@pytest.fixture
def bench(tmp_path: Path):
    pytest.importorskip("netmiko")
    pytest.importorskip("asyncssh")
    from test_ios_push import Bench

    b = Bench(tmp_path)
    yield b
    b.stop()


def test_pushed_over_ssh_then_nothing_to_change_and_no_secret_in_any_output(bench):
    from test_ios_push import HA as PUSH_HA
    from test_ios_push import config_lines, show, task

    tasks = [task("home_agent", PUSH_HA), task("aaa", AAA)]
    proc, recap = bench.play(*tasks, args=("-vvv", "--diff"))
    assert recap == {"ok": 2, "changed": 2, "unreachable": 0, "failed": 0}, proc.stdout[-4000:]
    running = show(bench, "show running-config")
    assert "aaa authorization ipmobile default group radius" in running
    assert f"radius-server host 192.0.2.50 auth-port 1812 acct-port 1646 key {SECRET}" in running
    assert "ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0 aaa load-sa" in running
    mark = bench.mark()
    proc2, recap = bench.play(*tasks)
    assert recap["changed"] == 0 and recap["failed"] == 0, proc2.stdout[-4000:]
    assert config_lines(bench.sent_since(mark)) == []
    proc3, recap = bench.play(task("aaa", None, "deleted"))
    assert recap["changed"] == 1 and "authorization ipmobile" not in show(bench, "show running-config")
    for output in (proc.stdout + proc.stderr, proc2.stdout, proc3.stdout):
        assert SECRET not in output and SECRET2 not in output
    log = (bench.router.state_dir / "commands.log").read_text()
    assert SECRET not in log and SECRET2 not in log
