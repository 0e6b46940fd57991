"""platforms/ios/state.py offline: the parsed show output in mipctl's shapes, from the fixtures of
test_ios_show.py; a router refusing a show command, a transport failing, registration on IOS; and the
seam (module_utils/mobility_state.py) picking the reader by platform."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli, mobility_state
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import PlatformError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import state

pytest.importorskip("textfsm")

FIXTURES = Path(__file__).parent / "fixtures" / "ios" / "show"


def router(**variants: str) -> tuple[state.IosStateReader, list[str]]:
    """A reader over fixtures: SHOW name -> fixture variant (default: the reference one); the commands sent."""
    sent: list[str] = []

    def show(command: str) -> str:
        sent.append(command)
        name = next(n for n, c in state.SHOW.items() if c == command)
        return (FIXTURES / f"{name}_{variants.get(name, 'reference')}.txt").read_text()

    return state.IosStateReader(show), sent


def test_bindings_from_the_flags_and_the_12_3t_nai_entries():
    reader, _sent = router(binding="nai_12_3t")
    first, second = reader.gather(("bindings",))["bindings"]
    assert first == {"home_address": "10.99.0.12", "care_of_address": "172.16.20.1", "lifetime": 600, "expires": None,
                     "identification": "c4f1a2b40a1b2c3e", "encap": "gre", "reverse": False, "source": "172.16.20.1",
                     "nai": "mn1@example.com", "simultaneous": False, "lifetime_left": 552}
    assert (second["lifetime"], second["lifetime_left"], second["simultaneous"], second["encap"]) == (
        0xFFFF, 0xFFFF, True, "ipip")
    reader, _sent = router()
    assert reader.gather(("bindings",))["bindings"][0]["reverse"] is True  # sBdmgvT


def test_visitors_take_their_encapsulation_from_their_tunnel_and_pending_has_none():
    reader, sent = router()
    info = reader.gather(("visitors", "pending"))
    assert info["visitors"] == [{
        "home_address": "10.99.0.11", "nai": None, "care_of_address": "172.16.20.1", "home_agent": "172.16.10.1",
        "interface": "Ethernet0/1", "lladdr": "00:50:56:aa:0b:11", "identification": "c4f1a2b30a1b2c3d",
        "reverse_tunnel": True, "lifetime_left": 9989, "encap": "ipip", "delivery": None, "lifetime": 10000}]
    assert info["pending"][0]["timeout_left"] == 5 and info["pending"][0]["encap"] is None
    assert sent == ["show ip mobile visitor", "show ip mobile tunnel", "show ip mobile visitor pending"]


def test_status_roles_and_counts_each_show_sent_once():
    reader, sent = router(binding="nai_12_3t", secure="variants", router="disabled")
    info = reader.gather(("status", "bindings", "sas"))
    assert info["status"]["roles"] == ["home_agent", "foreign_agent"]
    assert info["status"]["counts"] == {"security_associations": 4, "bindings": 2, "mobile_nodes": 1, "visitors": 1,
                                        "pending": 1}
    assert info["status"]["version"] is None and info["status"]["reload"] is None
    assert len(sent) == len(set(sent)) == 7  # globals, router, secure, binding, host, visitor, pending
    assert [(sa["peer"], sa["spi"], sa["algorithm"]) for sa in info["sas"]] == [
        ("10.99.0.11", 0x100, "hmac-md5"), ("10.99.0.11", 0x102, "hmac-md5"),
        ("10.99.0.20-10.99.0.29", 0x200, "md5-prefix-suffix"), ("mn1@example.com", 0x300, "hmac-md5")]
    reader, _sent = router(globals="none", router="disabled")
    assert reader.gather(("status",))["status"]["roles"] == []


def test_counters_under_mipds_names_where_they_mean_the_same():
    reader, _sent = router(traffic="sim_ha", tunnel="sim_ha")
    assert reader.gather(("counters",))["counters"] == {
        "roles": {"home_agent": {"rx.request": 2, "accepted.registration": 1, "ios.denied": 1, "denied.131": 1}},
        "runtime": {}, "dataplane": {}}
    reader, _sent = router(traffic="sim_fa")
    assert reader.gather(("counters",))["counters"]["roles"] == {"foreign_agent": {
        "tx.advertisement": 1, "rx.request": 2, "relayed.request": 2, "rx.reply": 1, "ios.reply_accepted": 1,
        "relayed.reply": 1}}
    reader, _sent = router()
    counters = reader.gather(("counters",))["counters"]
    assert counters["roles"]["home_agent"] == {"ios.register_requests": 8, "ios.register_replied": 7,
                                               "ios.accepted": 6, "ios.denied": 1, "ios.ignored": 1, "denied.131": 1,
                                               "ios.gratuitous_arps_sent": 3}
    assert counters["roles"]["foreign_agent"] == {"tx.advertisement": 120}
    assert counters["dataplane"] == {}  # the reference tunnel carried nothing


def test_a_mobile_routers_registration_in_mipctls_shape():
    reader, sent = router(router="sim_registered")
    assert reader.gather(("registration",))["registration"] == {
        "location": "away", "registered": True, "pending": False, "colocated": False,
        "care_of_address": "10.100.3.1", "agent_address": "10.100.3.1", "interface": "Ethernet0/0",
        "home_agent": "10.100.1.1", "lifetime_left": 587, "last_reply_code": 0,
        "last_reply_name": "registration accepted"}
    assert sent == ["show ip mobile router"]
    at_home = router(router="sim_home")[0].gather(("registration",))["registration"]
    assert (at_home["location"], at_home["registered"], at_home["care_of_address"]) == ("home", False, None)
    reference = router()[0].gather(("registration",))["registration"]  # IOS prints no code nor time left
    assert (reference["registered"], reference["last_reply_code"], reference["lifetime_left"]) == (True, None, None)


def test_status_counts_a_mobile_router_among_the_roles():
    reader, _sent = router(router="sim_registered", globals="sim_fa")
    assert "mobile_node" in reader.gather(("status",))["status"]["roles"]
    assert "mobile_node" not in router(router="disabled")[0].gather(("status",))["status"]["roles"]


def test_registration_refused_and_a_refused_show_named():
    reader, _sent = router(router="disabled")
    refusal = r"^registration: this router is not a mobile router \(show ip mobile router: disabled\)$"
    with pytest.raises(agent_cli.AgentRefused, match=refusal):
        reader.gather(("registration",))

    def no_mobile_router(command: str) -> str:
        return "                  ^\n% Invalid input detected at '^' marker.\n" if "router" in command else ""

    with pytest.raises(agent_cli.AgentRefused, match="^show ip mobile router: the router answered: % Invalid input"):
        state.IosStateReader(no_mobile_router).gather(("registration",))
    assert "mobile_node" not in state.IosStateReader(no_mobile_router).gather(("status",))["status"]["roles"]

    def old_router(command: str) -> str:
        return "                  ^\n% Invalid input detected at '^' marker.\n" if "pending" in command else ""

    with pytest.raises(agent_cli.AgentRefused) as refused:
        state.IosStateReader(old_router).gather(("visitors", "pending"))
    assert str(refused.value) == ("show ip mobile visitor pending: the router answered: % Invalid input detected at "
                                  "'^' marker.")


def test_a_transport_failure_is_unreachable():
    def gone(command: str) -> str:
        raise PlatformError("IOS-like router 192.0.2.1:22: no answer within 30 s (ansible_connect_timeout)")

    with pytest.raises(agent_cli.AgentUnreachable, match="no answer within 30 s"):
        state.IosStateReader(gone).gather(("bindings",))


class FakeModule:
    """What reader_for reads of a module: params, fail_json (raises), get_bin_path."""

    def __init__(self, **params: Any) -> None:
        self.params = {"config_path": "/nonexistent/mipd.yaml", "control_socket": None, "agent_bin_dir": None,
                       "transport": None, **params}

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        raise SystemExit(msg)

    def get_bin_path(self, name: str) -> str:
        return f"/usr/bin/{name}"


def test_the_seam_picks_the_reader_by_platform():
    assert isinstance(mobility_state.reader_for(FakeModule(platform="linux")), agent_cli.Mipctl)
    assert isinstance(mobility_state.reader_for(FakeModule(platform="ios"), lambda c: ""), state.IosStateReader)
    with pytest.raises(SystemExit, match="^IOS-like router: no way to read its state"):
        mobility_state.reader_for(FakeModule(platform="ios"))
    with pytest.raises(SystemExit, match="^IOS-like router: no way to read its state"), \
            mobility_state.opened_reader(FakeModule(platform="ios")):
        pass  # no transport option and no network_cli socket
