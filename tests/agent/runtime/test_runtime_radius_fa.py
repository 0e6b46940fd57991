"""A foreign agent fetching its FA-HA SA from a real FreeRADIUS (issue 12; RFC 5944 §3.7.2.2, §3.5.4).

One `mipd run` is home agent and foreign agent (as test_runtime_ha_fa.py), in a namespace of the test's
own, with FreeRADIUS on that namespace's loopback. The home agent holds an FA-HA SA with the foreign
agent in its keys file, so it requires an FHAE on requests relayed by it (§3.8.2.1 c); the foreign
agent has no SA with the home agent and asks RADIUS for one (User-Name = the home agent's address).
A visitor's registration through the foreign agent is accepted with the fetched SA; with a wrong key in
RADIUS the home agent refuses it (132) and nothing is bound; once fetched, the SA keeps serving while
RADIUS is down; mipctl shows where the SA came from, by fingerprint; the key is never in the log. With no
SA at all (RADIUS down from the start) the request goes without FHAE and the home agent refuses it (132),
or, with require_fa_ha_auth, the foreign agent refuses it (65); an SA fetched for the home agent is not
used for another one (RADIUS knows none for it: refused with 65, logged once for that home agent).
"""

from __future__ import annotations

import secrets
import time

import pytest
import radius_server
import runtime_helpers as h
from mipd.protocol import codes
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket
from mipd.security import SecurityAssociation, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not radius_server.available(), reason="needs freeradius, root")]

FA = "10.2.0.1"
FA_HA_SPI = 500
FA_HA_KEY = "66612d686120736563726574206b6579"  # distinctive, so a leak is easy to spot
PORT = 18131
OTHER_HA = "10.3.0.1"  # a home agent RADIUS has no FA-HA SA for
KEYS = {"security_associations": [
    {"peer": h.HOME, "spi": h.SPI, "key": h.KEY_HEX, "roles": ["home_agent"]},
    {"peer": FA, "spi": FA_HA_SPI, "key": FA_HA_KEY, "roles": ["home_agent"]},  # the home agent's side
]}


@pytest.fixture
def agent(netns, tmp_path, request):
    """(mipd, FreeRADIUS) with the visited link fa-visit/fa-peer; RADIUS holds the FA-HA SA under the HA's address.
    Indirect parameter: settings added to the foreign_agent section."""
    for a, b, addr in (("fa-visit", "fa-peer", f"{FA}/24"), ("ha-home", "ha-peer", f"{h.HA_ADDRESS}/24")):
        h.ip("link", "add", a, "type", "veth", "peer", "name", b, ns=netns.name)
        h.ip("addr", "add", addr, "dev", a, ns=netns.name)
        h.ip("link", "set", a, "up", ns=netns.name)
        h.ip("link", "set", b, "up", ns=netns.name)
    secret = secrets.token_hex(16)
    server = radius_server.RadiusServer(tmp_path / "radius", port=PORT, secret=secret, netns=netns.name)
    fa_section = {**h.FA_SECTION, "interfaces": [{"name": "fa-visit", "address": FA}], **getattr(request, "param", {})}
    cfg = h.config(foreign_agent=fa_section)
    cfg["dataplane"] = {"backend": "none"}
    cfg["home_agent"].update({"interface": "ha-home", "advertisement": {"enabled": False}})
    cfg["radius"] = {"servers": [{"address": "127.0.0.1", "port": PORT}], "timeout": 0.3, "retries": 1,
                     "cache_lifetime": 600}
    mipd = h.Mipd(netns, h.write(tmp_path / "mipd", cfg, dict(KEYS, radius_secrets={"127.0.0.1": secret})))
    try:
        yield mipd, server
    finally:
        mipd.stop()
        server.stop()


def register_via_fa(netns: h.Netns, tries: int = 6, home_agent: str = h.HA_ADDRESS) -> reg.RegistrationReply | None:
    """A visitor on fa-peer sends its request to the foreign agent until a reply comes back (the first one
    waits for the RADIUS lookup); the reply, or None."""
    mn = h.in_netns(netns.name, lambda: PacketSocket("fa-peer", True, ()))
    try:
        for _ in range(tries):
            ident = ntp_timestamp(time.time())
            data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                        reg.RegistrationRequest(0, 600, h.HOME, home_agent, FA, ident).encode(), MHAE)
            mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=1))
            try:
                _mac, rx = h.receive(mn, lambda m, r: r.proto == 17 and r.payload[:1] == b"\x03", timeout=1.0)
            except AssertionError:
                continue
            return reg.decode(rx.payload)
        return None
    finally:
        mn.close()


def started(agent, key: str | None = FA_HA_KEY) -> h.Mipd:
    """The agent started, FreeRADIUS holding its FA-HA SA with `key` (None: FreeRADIUS never started)."""
    mipd, server = agent
    if key is not None:
        server.add_sa(h.HA_ADDRESS, FA_HA_SPI, key)
        server.start()
    mipd.start()
    return mipd


def test_the_foreign_agent_fetches_its_fa_ha_sa_and_the_registration_is_accepted(agent, netns):
    mipd, server = started(agent), agent[1]
    reply = register_via_fa(netns)
    assert reply is not None and reply.code == codes.ACCEPTED
    counters = mipd.ctl_json("counters")["roles"]
    assert counters["home_agent"].get("security.fa_auth_failed", 0) == 0  # the FHAE verified (§3.8.2.1 c)
    assert counters["foreign_agent"]["aaa.lookup"] == 1
    fetched = [sa for sa in mipd.ctl_json("sas") if sa["source"] == "radius"]
    assert [(sa["peer"], sa["spi"], sa["roles"]) for sa in fetched] == [(h.HA_ADDRESS, FA_HA_SPI, ["foreign_agent"])]
    server.stop()  # RADIUS down: the cached SA keeps serving
    reply = register_via_fa(netns)
    assert reply is not None and reply.code == codes.ACCEPTED
    assert mipd.ctl("drop-sas", h.HA_ADDRESS).returncode == 0  # the FA-HA SA goes; the next request fetches again
    assert [sa for sa in mipd.ctl_json("sas") if sa["source"] == "radius"] == []
    assert_no_key(mipd)


def test_a_wrong_key_on_the_server_is_refused_by_the_home_agent(agent, netns):
    mipd = started(agent, key="00" * 16)
    reply = register_via_fa(netns)
    assert reply is not None and reply.code in (codes.HA_FA_AUTH, codes.FA_HA_AUTH)
    counters = mipd.ctl_json("counters")["roles"]
    assert counters["home_agent"]["security.fa_auth_failed"] >= 1
    assert mipd.ctl_json("bindings") == [] and mipd.ctl_json("visitors") == []


def assert_no_key(mipd: h.Mipd) -> None:
    for text in (mipd.log_text(), str(mipd.ctl_json("sas")), mipd.ctl("sas").stdout):
        assert FA_HA_KEY not in text and FA_HA_KEY.upper() not in text


def test_with_radius_down_and_no_sa_the_request_goes_without_fhae_and_the_home_agent_refuses(agent, netns):
    mipd = started(agent, key=None)
    reply = register_via_fa(netns)
    assert reply is not None and reply.code == codes.HA_FA_AUTH  # §3.8.2.1 c: the home agent requires the FHAE
    counters = mipd.ctl_json("counters")["roles"]
    assert counters["foreign_agent"]["aaa.result.unreachable"] == 1
    assert counters["foreign_agent"]["relayed.without_fhae"] >= 1 and mipd.ctl_json("bindings") == []


@pytest.mark.parametrize("agent", [{"require_fa_ha_auth": True}], indirect=True)
def test_with_radius_down_and_fa_ha_auth_required_the_foreign_agent_refuses_with_65(agent, netns):
    mipd = started(agent, key=None)
    reply = register_via_fa(netns)
    assert reply is not None and reply.code == codes.FA_PROHIBITED
    counters = mipd.ctl_json("counters")["roles"]
    assert counters["foreign_agent"]["refused.no_fa_ha_sa"] >= 1
    assert counters["home_agent"].get("rx.request", 0) == 0  # never relayed
    assert mipd.log_text().count(f"fa-ha-sa-missing home_agent={h.HA_ADDRESS}") == 1


@pytest.mark.parametrize("agent", [{"require_fa_ha_auth": True}], indirect=True)
def test_an_sa_fetched_for_one_home_agent_is_not_used_for_another(agent, netns):
    mipd = started(agent)
    reply = register_via_fa(netns)
    assert reply is not None and reply.code == codes.ACCEPTED
    for _ in range(2):  # RADIUS refuses OTHER_HA; the retransmission meets the negative cache
        reply = register_via_fa(netns, home_agent=OTHER_HA)
        assert reply is not None and reply.code == codes.FA_PROHIBITED
    counters = mipd.ctl_json("counters")["roles"]["foreign_agent"]
    assert counters["aaa.lookup"] == 2 and counters["aaa.result.reject"] == 1
    assert counters["refused.no_fa_ha_sa"] >= 2 and counters["relayed.request"] == 1
    fetched = [(sa["peer"], sa["source"]) for sa in mipd.ctl_json("sas") if sa["source"] == "radius"]
    assert fetched == [(h.HA_ADDRESS, "radius")]
    assert mipd.log_text().count(f"fa-ha-sa-missing home_agent={OTHER_HA}") == 1
    assert_no_key(mipd)
