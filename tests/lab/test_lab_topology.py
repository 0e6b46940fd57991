"""Unit tests of plugins/module_utils/lab_topology.py: descriptions, plans (diffs), roaming, absent, apply.

Pure: no namespace is made; the observed state is built in memory and commands go to a fake runner.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import lab_helpers
import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

assert lab_helpers.COLLECTIONS  # lab_helpers put the collection on sys.path

NETWORKS = [
    {"name": "mgmt", "prefix": "10.254.9.0/24"},
    {"name": "home", "prefix": "10.100.1.0/24"},
    {"name": "visit1", "prefix": "10.100.2.0/24"},
    {"name": "core", "prefix": "10.100.11.0/24"},
]
HOSTS = [
    {"name": "rt", "forwarding": True, "interfaces": [
        {"name": "mgmt0", "network": "mgmt", "host": 2},
        {"name": "to-ha", "network": "core", "host": 1},
        {"name": "to-fa1", "network": "visit1", "host": 254},
    ], "routes": [{"to": "home", "via": "ha", "dev": "to-ha"}]},
    {"name": "ha", "forwarding": True, "interfaces": [
        {"name": "mgmt0", "network": "mgmt", "host": 3},
        {"name": "home0", "network": "home", "host": 1},
        {"name": "core0", "network": "core", "host": 2},
    ], "routes": [{"to": "default", "via": "rt", "dev": "core0"}]},
    {"name": "mn1", "interfaces": [
        {"name": "mgmt0", "network": "mgmt", "host": 101},
        {"name": "eth0", "network": "home", "address": "10.100.1.10", "roaming": ["home", "visit1"]},
    ], "routes": [{"to": "default", "via": "ha", "dev": "eth0", "keep_existing": True}]},
]
UPLINKS = [{"name": "t-mg", "network": "mgmt", "host": 1}]


def topo(prefix: str = "t", hosts: list | None = None, networks: list | None = None) -> lt.Topology:
    return lt.Topology.from_spec(prefix, networks or NETWORKS, HOSTS if hosts is None else hosts, UPLINKS)


def built(t: lt.Topology) -> lt.Observed:
    """The state ``ensure_present`` leaves behind, as ``observe`` would read it."""
    index = iter(range(10, 10_000))
    switch: dict[str, lt.Link] = {"lo": lt.Link("lo", "", 1, up=True)}
    for net in t.networks.values():
        switch[net.bridge] = lt.Link(net.bridge, "bridge", next(index), up=True)
    hosts: dict[str, lt.NamespaceState] = {}

    def pair(ifname: str, port: str, bridge: str, address: ipaddress.IPv4Interface | None) -> lt.Link:
        a, b = next(index), next(index)
        switch[port] = lt.Link(port, "veth", b, peer_ifindex=a, master=bridge, up=True)
        return lt.Link(ifname, "veth", a, peer_ifindex=b, up=True,
                       addresses=frozenset([str(address)] if address else []))

    for h in t.hosts.values():
        links = {"lo": lt.Link("lo", "", 1, up=True)}
        routes = []
        for i in h.interfaces:
            links[i.name] = pair(i.name, i.port, t.networks[i.network].bridge, i.address)
            routes.append(lt.RouteEntry(str(i.address.network), None, i.name))
        routes += [lt.RouteEntry(r.dst, str(r.via), r.dev) for r in h.routes]
        hosts[t.namespace(h.name)] = lt.NamespaceState(links, routes, h.forwarding)
    root = {u.name: pair(u.name, u.name, t.networks[u.network].bridge, u.address) for u in t.uplinks}
    namespaces = frozenset([t.switch_namespace, *hosts, "other-lab-ns", "t2-ha", "tx-ha"])
    return lt.Observed(namespaces=namespaces, switch=switch, hosts=hosts, root=root)


def commands(actions: list[lt.Action]) -> list[str]:
    return [line for a in actions for line in a.command_lines()]


# ------------------------------------------------------------------------------------------
# Descriptions


def test_addresses_and_gateways_are_resolved():
    """Host numbers become addresses in their network; a gateway named by host becomes its address on dev's network."""
    t = topo()
    assert t.hosts["ha"].interface("home0").address == ipaddress.IPv4Interface("10.100.1.1/24")
    assert t.hosts["rt"].interface("to-fa1").address == ipaddress.IPv4Interface("10.100.2.254/24")
    assert t.hosts["mn1"].interface("eth0").address == ipaddress.IPv4Interface("10.100.1.10/24")
    (rt_route,) = t.hosts["rt"].routes
    assert (rt_route.dst, str(rt_route.via), rt_route.dev) == ("10.100.1.0/24", "10.100.11.2", "to-ha")
    (mn_route,) = t.hosts["mn1"].routes
    assert (mn_route.dst, str(mn_route.via), mn_route.keep_existing) == ("default", "10.100.1.1", True)
    assert t.uplinks[0].address == ipaddress.IPv4Interface("10.254.9.1/24")


def test_names_derive_from_the_prefix():
    """Namespaces are <prefix>-<host>, the switch namespace <prefix>-sw, ports <host>-<if>, bridges br-<net>."""
    t = topo("lab7")
    d = t.to_dict()
    assert d["switch_namespace"] == "lab7-sw"
    assert d["hosts"]["mn1"]["namespace"] == "lab7-mn1"
    assert d["hosts"]["mn1"]["interfaces"]["eth0"] == {
        "network": "home", "address": "10.100.1.10", "prefix_length": 24, "cidr": "10.100.1.10/24",
        "roaming": ["home", "visit1"], "switch_port": "mn1-eth0"}
    assert d["networks"]["visit1"] == {"prefix": "10.100.2.0/24", "bridge": "br-visit1"}
    assert d["uplinks"]["t-mg"]["cidr"] == "10.254.9.1/24"
    assert d["hosts"]["ha"]["routes"] == [{"to": "default", "via": "10.100.11.1", "dev": "core0",
                                           "keep_existing": False}]


def test_lab_namespaces_match_only_the_prefix():
    """Only <prefix>-<host> namespaces belong to a lab: not those of a lab whose prefix merely starts the same."""
    names = ["t-ha", "t-sw", "t2-ha", "tx-ha", "t-", "t-HA", "t-ha-x", "mipdp-1-0-ha", "t-mn12"]
    assert lt.lab_namespaces("t", names) == ["t-ha", "t-mn12", "t-sw"]


def extra(*interfaces: dict, routes: tuple = (), name: str = "x"):
    """A change adding host ``name`` with these interfaces (network, then host number or address) and routes."""
    return lambda n, h: ("t", n, [*h, {"name": name, "interfaces": list(interfaces), "routes": list(routes)}])


def iface(network: str, name: str = "e", **more) -> dict:
    return {"name": name, "network": network, **more}


@pytest.mark.parametrize(("change", "message"), [
    (lambda n, h: ("Bad", n, h), "prefix"),
    (lambda n, h: ("toolongprefix1", n, h), "prefix"),
    (lambda n, h: ("t", [*n, {"name": "dup", "prefix": "10.100.1.128/25"}], h), "overlaps network 'home'"),
    (lambda n, h: ("t", [*n, {"name": "x", "prefix": "10.1.0.1/24"}], h), "not an IPv4 network"),
    (extra(name="sw"), "reserved"),
    (extra(name="ha"), "described twice"),
    (extra(iface("nope", host=1)), "unknown network 'nope'"),
    (extra(iface("home", host=1)), "10.100.1.1 is already used"),
    (extra(iface("home", host=300)), "host: must be 1-254"),
    (extra(iface("home", address="10.100.2.5")), "not a host address of 10.100.1.0/24"),
    (extra(iface("home", host=5, address="10.100.1.5")), "either host or address"),
    (extra(iface("home", "interface0", host=5), name="abcdefgh"), "longer than 15"),
    (extra(iface("home", host=5, roaming=["mars"])), "unknown network 'mars'"),
    (extra(iface("mgmt", "m", host=50), iface("core", host=50), routes=[{"to": "default", "via": "rt"}]),
     "shares more than one"),
    (extra(iface("home", host=50), routes=[{"to": "default", "via": "10.9.9.9"}]), "on no network"),
    (extra(iface("home", host=50), routes=[{"to": "nowhere", "via": "ha"}]), "neither 'default'"),
    (extra(iface("home", host=50), routes=[{"via": "ha"}, {"to": "0.0.0.0/0", "via": "ha"}]), "same destination"),
])
def test_bad_descriptions_are_refused(change, message):
    """Every wrong description fails with a LabTopologyError naming the item and the problem."""
    prefix, networks, hosts = change(list(NETWORKS), list(HOSTS))
    with pytest.raises(lt.LabTopologyError, match=message):
        lt.Topology.from_spec(prefix, networks, hosts, UPLINKS)


# ------------------------------------------------------------------------------------------
# Plans for state present


def test_plan_from_nothing_builds_everything_in_order():
    """From an empty machine: namespaces, then bridges in the switch namespace, veths, routes, ip_forward, uplink."""
    t = topo()
    cmds = commands(lt.plan_present(t, lt.Observed()))
    assert cmds[:2] == ["ip netns add t-sw", "ip -n t-sw link set lo up"]
    assert "ip -n t-sw link add br-home type bridge" in cmds
    assert "ip -n t-sw link add mn1-eth0 type veth peer name eth0 netns t-mn1" in cmds
    assert "ip -n t-sw link set mn1-eth0 master br-home up" in cmds
    assert "ip -n t-mn1 addr add 10.100.1.10/24 dev eth0" in cmds
    assert "ip -n t-rt route replace 10.100.1.0/24 via 10.100.11.2 dev to-ha" in cmds
    assert "ip netns exec t-ha sysctl -qw net.ipv4.ip_forward=1" in cmds
    assert not any("t-mn1 sysctl" in c for c in cmds)  # a new namespace does not forward already
    assert cmds[-4:] == ["ip link add t-mg type veth peer name t-mg netns t-sw",
                         "ip -n t-sw link set t-mg master br-mgmt up", "ip link set t-mg up",
                         "ip addr add 10.254.9.1/24 dev t-mg"]
    # no bridge is ever made outside the switch namespace
    assert all(" -n t-sw " in c for c in cmds if "type bridge" in c)
    # every namespace is made before anything is put in it
    first_use = min(i for i, c in enumerate(cmds) if "link add" in c)
    assert all(i < first_use for i, c in enumerate(cmds) if c.startswith("ip netns add"))


def test_plan_for_a_built_lab_is_empty():
    """Idempotency: when everything is as described, nothing is planned (other labs' namespaces are ignored)."""
    t = topo()
    assert lt.plan_present(t, built(t)) == []


def test_missing_address_and_down_links_are_repaired_alone():
    """A lost address, an interface set down and a switch port set down each give only their own repair."""
    t = topo()
    obs = built(t)
    ha = obs.hosts["t-ha"]
    ha.links["home0"] = replace(ha.links["home0"], addresses=frozenset(), up=False)
    obs.switch["ha-core0"] = replace(obs.switch["ha-core0"], up=False)
    assert commands(lt.plan_present(t, obs)) == [
        "ip -n t-ha link set home0 up",
        "ip -n t-ha addr add 10.100.1.1/24 dev home0",
        "ip -n t-sw link set ha-core0 up",
    ]


def test_extra_addresses_and_routes_are_left_alone():
    """Addresses and routes the lab did not add (an agent's) are not removed."""
    t = topo()
    obs = built(t)
    ha = obs.hosts["t-ha"]
    ha.links["home0"] = replace(ha.links["home0"], addresses=ha.links["home0"].addresses | {"10.100.1.200/24"})
    ha.routes.append(lt.RouteEntry("10.100.1.10", None, "mip0"))
    assert lt.plan_present(t, obs) == []


def test_fixed_port_on_the_wrong_bridge_is_moved_back():
    """A non-roaming interface found on another bridge is attached to its own network again."""
    t = topo()
    obs = built(t)
    obs.switch["ha-home0"] = replace(obs.switch["ha-home0"], master="br-visit1")
    assert commands(lt.plan_present(t, obs)) == ["ip -n t-sw link set ha-home0 master br-home up"]


def test_roaming_port_stays_where_it_roamed():
    """A roaming interface on any of its networks is left there: lab_up after a roam does not undo the roam."""
    t = topo()
    obs = built(t)
    obs.switch["mn1-eth0"] = replace(obs.switch["mn1-eth0"], master="br-visit1")
    assert lt.plan_present(t, obs) == []
    obs.switch["mn1-eth0"] = replace(obs.switch["mn1-eth0"], master="br-core")  # not one of its networks
    assert commands(lt.plan_present(t, obs)) == ["ip -n t-sw link set mn1-eth0 master br-home up"]


def test_broken_veth_pair_is_recreated():
    """An interface whose switch end is missing (or not its peer) is deleted and made again, address included."""
    t = topo()
    obs = built(t)
    del obs.switch["rt-to-ha"]
    assert commands(lt.plan_present(t, obs)) == [
        "ip -n t-rt link del to-ha",
        "ip -n t-sw link add rt-to-ha type veth peer name to-ha netns t-rt",
        "ip -n t-sw link set rt-to-ha master br-core up",
        "ip -n t-rt link set to-ha up",
        "ip -n t-rt addr add 10.100.11.1/24 dev to-ha",
        "ip -n t-rt route replace 10.100.1.0/24 via 10.100.11.2 dev to-ha",  # the kernel dropped it with the link
    ]
    obs = built(t)
    obs.hosts["t-rt"].links["to-ha"] = replace(obs.hosts["t-rt"].links["to-ha"], peer_ifindex=9999)
    assert commands(lt.plan_present(t, obs))[:2] == ["ip -n t-rt link del to-ha", "ip -n t-sw link del rt-to-ha"]


def test_routes_are_replaced_unless_kept():
    """A missing or different route is replaced; with keep_existing any route to the destination is accepted."""
    t = topo()
    obs = built(t)
    obs.hosts["t-ha"].routes = [r for r in obs.hosts["t-ha"].routes if r.dst != "default"]
    obs.hosts["t-ha"].routes.append(lt.RouteEntry("default", "10.100.1.99", "home0"))
    obs.hosts["t-mn1"].routes = [r for r in obs.hosts["t-mn1"].routes if r.dst != "default"]
    obs.hosts["t-mn1"].routes.append(lt.RouteEntry("default", "10.100.2.1", "eth0"))  # the MN's agent moved it
    assert commands(lt.plan_present(t, obs)) == ["ip -n t-ha route replace default via 10.100.11.1 dev core0"]
    obs.hosts["t-mn1"].routes = [r for r in obs.hosts["t-mn1"].routes if r.dst != "default"]
    assert commands(lt.plan_present(t, obs)) == ["ip -n t-ha route replace default via 10.100.11.1 dev core0",
                                                 "ip -n t-mn1 route replace default via 10.100.1.1 dev eth0"]


def test_forwarding_is_set_both_ways():
    """ip_forward is switched on where a host routes and off where it must not."""
    t = topo()
    obs = built(t)
    obs.hosts["t-rt"].forwarding = False
    obs.hosts["t-mn1"].forwarding = True
    assert commands(lt.plan_present(t, obs)) == ["ip netns exec t-rt sysctl -qw net.ipv4.ip_forward=1",
                                                 "ip netns exec t-mn1 sysctl -qw net.ipv4.ip_forward=0"]


def test_hosts_and_networks_no_longer_described_are_removed():
    """Fewer hosts: their namespaces go (processes first); fewer networks: their bridges go."""
    t = topo()
    obs = built(t)
    smaller = topo(hosts=HOSTS[:2], networks=NETWORKS)
    obs.switch["br-old"] = lt.Link("br-old", "bridge", 5000, up=True)
    actions = lt.plan_present(smaller, obs)
    assert [a.description for a in actions] == [
        "remove namespace t-mn1 (host no longer in the lab)",
        "remove bridge br-old from t-sw (network no longer in the lab)",
    ]
    assert actions[0].kill_namespace == "t-mn1"


def test_uplink_is_rebuilt_when_missing():
    """A lost uplink in the root namespace is made again with its address."""
    t = topo()
    obs = built(t)
    obs.root = {}
    del obs.switch["t-mg"]
    assert commands(lt.plan_present(t, obs)) == [
        "ip link add t-mg type veth peer name t-mg netns t-sw",
        "ip -n t-sw link set t-mg master br-mgmt up",
        "ip link set t-mg up",
        "ip addr add 10.254.9.1/24 dev t-mg",
    ]


# ------------------------------------------------------------------------------------------
# Absent and roaming


def test_plan_absent_ends_processes_then_removes_uplink_and_namespaces():
    """Processes end first (their connections close through the uplink), then the uplink, then hosts, switch last."""
    t = topo()
    obs = built(t)
    obs.pids = {"t-ha": [100, 101], "t-mn1": [], "t-sw": []}
    actions = lt.plan_absent("t", obs, ["t-mg", "t-gone"])
    assert [a.description for a in actions] == [
        "end the 2 process(es) in namespace t-ha",
        "remove uplink t-mg from the root namespace",
        "remove namespace t-ha", "remove namespace t-mn1", "remove namespace t-rt", "remove namespace t-sw",
    ]
    assert lt.plan_absent("t", lt.Observed(namespaces=frozenset(["t2-ha", "other"]))) == []


def test_plan_roam_moves_the_port_with_a_carrier_gap():
    """Roaming sets the switch port down, waits, attaches it to the new bridge and sets it up; twice is a no-op."""
    t = topo()
    obs = built(t)
    (action,) = lt.plan_roam("t", "mn1", "eth0", "visit1", obs, carrier_down=0.25)
    assert action.command_lines() == ["ip -n t-sw link set mn1-eth0 down", "sleep 0.25",
                                      "ip -n t-sw link set mn1-eth0 master br-visit1",
                                      "ip -n t-sw link set mn1-eth0 up"]
    assert "from br-home to br-visit1" in action.description
    assert lt.plan_roam("t", "mn1", "eth0", "home", obs) == []
    assert [c for c in lt.plan_roam("t", "mn1", "eth0", "visit1", obs, carrier_down=0)[0].command_lines()
            if c.startswith("sleep")] == []


@pytest.mark.parametrize(("host", "ifname", "network", "message"), [
    ("mn9", "eth0", "visit1", "no interface"),
    ("mn1", "eth0", "visit7", "no network 'visit7'"),
])
def test_plan_roam_refuses_unknown_hosts_and_networks(host, ifname, network, message):
    """Roaming an unknown interface or to an unknown network fails with a clear message."""
    with pytest.raises(lt.LabTopologyError, match=message):
        lt.plan_roam("t", host, ifname, network, built(topo()))
    with pytest.raises(lt.LabTopologyError, match="does not exist"):
        lt.plan_roam("t", "mn1", "eth0", "visit1", lt.Observed())


# ------------------------------------------------------------------------------------------
# Carrying out


class FakeRunner(lt.Runner):
    """Records commands; namespaces' processes vanish after a signal."""

    def __init__(self, pids: dict[str, list[int]] | None = None) -> None:
        super().__init__(ip="ip")
        self.ran: list[list[str]] = []
        self.slept: list[float] = []
        self.signals: list[tuple[int, int]] = []
        self.pids = pids or {}

    def run(self, argv, check=True):
        self.ran.append(list(argv))
        if argv[:3] == ["ip", "netns", "pids"]:
            return "\n".join(str(p) for p in self.pids.get(argv[3], []))
        return ""

    def sleep(self, seconds):
        self.slept.append(seconds)

    def kill(self, pid, sig):
        self.signals.append((pid, sig))
        for pids in self.pids.values():
            if pid in pids:
                pids.remove(pid)
        return True


def test_apply_runs_commands_in_order_and_sleeps_without_a_process():
    """apply() runs each action's commands in order; 'sleep' is a pause, not a command."""
    runner = FakeRunner()
    actions = lt.plan_roam("t", "mn1", "eth0", "visit1", built(topo()), carrier_down=0.5)
    lt.apply(actions, runner)
    assert runner.ran == [["ip", "-n", "t-sw", "link", "set", "mn1-eth0", "down"],
                          ["ip", "-n", "t-sw", "link", "set", "mn1-eth0", "master", "br-visit1"],
                          ["ip", "-n", "t-sw", "link", "set", "mn1-eth0", "up"]]
    assert runner.slept == [0.5]


def test_apply_kills_a_namespace_processes_before_deleting_it():
    """A namespace with processes gets SIGTERM for each, and is deleted only once they are gone."""
    runner = FakeRunner({"t-ha": [4242, 4243]})
    lt.apply([lt.Action("remove namespace t-ha", (("ip", "netns", "del", "t-ha"),), kill_namespace="t-ha")], runner)
    assert sorted(runner.signals) == [(4242, 15), (4243, 15)]
    assert runner.ran[-1] == ["ip", "netns", "del", "t-ha"]


def test_apply_stops_at_a_failing_command():
    """The first failing command raises LabCommandError naming it; later commands do not run."""
    class Failing(FakeRunner):
        def run(self, argv, check=True):
            if "br-home" in argv:
                raise lt.LabCommandError(argv, 2, "RTNETLINK answers: File exists")
            return super().run(argv, check)

    runner = Failing()
    with pytest.raises(lt.LabCommandError, match="File exists"):
        lt.apply(lt.plan_present(topo(), lt.Observed()), runner)
    assert not any("br-visit1" in c for c in runner.ran)


def test_observe_reads_ip_json():
    """observe() turns `ip -json` output into links (kind, peer, master, addresses), routes and ip_forward."""
    sw_links = ('[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"]},'
                '{"ifindex":5,"ifname":"br-home","flags":["UP"],"linkinfo":{"info_kind":"bridge"}},'
                '{"ifindex":7,"link_index":2,"ifname":"mn1-eth0","flags":["UP"],"master":"br-home",'
                '"linkinfo":{"info_kind":"veth"}}]')
    mn_links = ('[{"ifindex":2,"link_index":7,"ifname":"eth0","flags":["BROADCAST","UP","LOWER_UP"],'
                '"linkinfo":{"info_kind":"veth"},"addr_info":[{"family":"inet","local":"10.100.1.10","prefixlen":24},'
                '{"family":"inet6","local":"fe80::1","prefixlen":64}]}]')
    mn_routes = '[{"dst":"default","gateway":"10.100.1.1","dev":"eth0"},{"dst":"10.100.1.0/24","dev":"eth0"}]'

    class Reader(FakeRunner):
        def run(self, argv, check=True):
            self.ran.append(list(argv))
            if argv[:3] == ["ip", "netns", "list"]:
                return "t-sw (id: 0)\nt-mn1 (id: 1)\nu-ha\n"
            if argv[:3] == ["ip", "-n", "t-sw"]:
                return sw_links
            if argv[:5] == ["ip", "-n", "t-mn1", "-j", "-d"]:
                return mn_links
            if argv[:5] == ["ip", "-n", "t-mn1", "-j", "route"]:
                return mn_routes
            if "sysctl" in argv:
                return "0\n"
            raise AssertionError(argv)

    obs = lt.observe("t", runner=Reader())
    assert obs.namespaces == {"t-sw", "t-mn1", "u-ha"}
    assert obs.switch["mn1-eth0"] == lt.Link("mn1-eth0", "veth", 7, peer_ifindex=2, master="br-home", up=True)
    mn = obs.hosts["t-mn1"]
    assert mn.links["eth0"].addresses == {"10.100.1.10/24"}
    assert mn.routes[0] == lt.RouteEntry("default", "10.100.1.1", "eth0")
    assert mn.forwarding is False
    assert "u-ha" not in obs.hosts
