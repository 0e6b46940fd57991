# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab of network namespaces on one Linux machine: describe it, observe it, diff, apply.

No Ansible imports: the ``lab_network`` and ``lab_roam`` modules, the tests and other tooling
all use this API.

Model (every name below is derived from the lab's ``prefix``):

* one namespace per lab host, ``<prefix>-<host>``;
* one *switch* namespace ``<prefix>-sw`` holding every bridge (``br-<network>``), so no bridge
  lands in the root namespace;
* one veth pair per host interface: the host end (the interface's name) in the host's namespace,
  the switch end (``<host>-<interface>``, the *switch port*) on the network's bridge;
* uplinks: a veth from the root namespace (the controller) to a bridge, with an address there
  (the management network through which the controller reaches every host);
* routes inside host namespaces and ``net.ipv4.ip_forward`` per host.

Typical use::

    topo = Topology.from_spec("mlab", networks=[...], hosts=[...], uplinks=[...])
    result = ensure_present(topo, check=False)     # -> Result(changed, actions)
    ensure_roamed("mlab", "mn1", "eth0", "visit1")
    ensure_absent("mlab", uplinks=["mlab-mg"])

``plan_present``, ``plan_absent`` and ``plan_roam`` are pure: they take an :class:`Observed`
state (what ``observe`` reads with ``ip -json``) and return the :class:`Action` list that turns
it into the wanted one. An empty list means nothing to do (idempotency); check mode computes the
list and runs none of it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
HOST_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
NETWORK_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
IFNAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
IFNAMSIZ = 15  # longest Linux interface name
SWITCH = "sw"  # the switch namespace's host part; no lab host may be called this
DEFAULT_ROUTE = ipaddress.IPv4Network("0.0.0.0/0")


class LabTopologyError(ValueError):
    """A wrong topology description (``path`` names the offending item) or an impossible request."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class LabCommandError(RuntimeError):
    """A command that changes or reads the lab failed."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv)} failed (rc {returncode}): {stderr.strip()}")
        self.argv = list(argv)
        self.rc = returncode
        self.stderr = stderr


# --------------------------------------------------------------------------------------------
# Names


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise LabTopologyError("must be 1-12 characters, lower-case letters and digits, starting with a letter",
                               "prefix")
    return prefix


def namespace_name(prefix: str, host: str) -> str:
    """The namespace of lab host ``host``."""
    return f"{prefix}-{host}"


def switch_namespace(prefix: str) -> str:
    """The namespace holding the lab's bridges."""
    return f"{prefix}-{SWITCH}"


def bridge_name(network: str) -> str:
    """The bridge of ``network`` (in the switch namespace)."""
    return f"br-{network}"


def switch_port(host: str, ifname: str) -> str:
    """The switch end of host ``host``'s interface ``ifname`` (in the switch namespace)."""
    return f"{host}-{ifname}"


def lab_namespaces(prefix: str, namespaces: Sequence[str]) -> list[str]:
    """The namespaces among ``namespaces`` that belong to the lab ``prefix`` (hosts and switch)."""
    pattern = re.compile(r"^" + re.escape(prefix) + r"-([a-z][a-z0-9]{0,7})$")
    return sorted(n for n in namespaces if pattern.match(n))


# --------------------------------------------------------------------------------------------
# The wanted topology


@dataclass(frozen=True)
class Network:
    name: str
    prefix: ipaddress.IPv4Network

    @property
    def bridge(self) -> str:
        return bridge_name(self.name)


@dataclass(frozen=True)
class Interface:
    name: str
    network: str  # where the switch port is attached when created
    address: ipaddress.IPv4Interface | None
    roaming: tuple[str, ...] = ()  # other networks the port may be moved to (it is then left there)
    port: str = ""

    @property
    def networks(self) -> tuple[str, ...]:
        return (self.network,) + tuple(n for n in self.roaming if n != self.network)


@dataclass(frozen=True)
class Route:
    to: ipaddress.IPv4Network
    via: ipaddress.IPv4Address
    dev: str
    keep_existing: bool = False  # an existing route to the same destination is left as it is

    @property
    def dst(self) -> str:
        return "default" if self.to == DEFAULT_ROUTE else str(self.to)


@dataclass(frozen=True)
class Host:
    name: str
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...] = ()
    forwarding: bool = False

    def interface(self, name: str) -> Interface:
        for i in self.interfaces:
            if i.name == name:
                return i
        raise KeyError(name)


@dataclass(frozen=True)
class Uplink:
    name: str  # the interface in the root namespace; also its switch port's name
    network: str
    address: ipaddress.IPv4Interface | None


@dataclass(frozen=True)
class Topology:
    prefix: str
    networks: dict[str, Network]
    hosts: dict[str, Host]
    uplinks: tuple[Uplink, ...] = ()

    @property
    def switch_namespace(self) -> str:
        return switch_namespace(self.prefix)

    def namespace(self, host: str) -> str:
        return namespace_name(self.prefix, host)

    @classmethod
    def from_spec(cls, prefix: str, networks: Sequence[dict[str, Any]], hosts: Sequence[dict[str, Any]],
                  uplinks: Sequence[dict[str, Any]] = ()) -> Topology:
        """Parse and check a description (the ``lab_network`` module's options), resolving addresses.

        ``networks``: ``{name, prefix}``. ``hosts``: ``{name, forwarding, interfaces, routes}`` with
        interfaces ``{name, network, host | address, roaming}`` (``host`` N is the network's Nth
        address) and routes ``{to, via, dev, keep_existing}`` (``to``: ``default``, a prefix or a
        network name; ``via``: an address or a lab host's name, then its address on ``dev``'s
        network). ``uplinks``: ``{name, network, host | address}``.
        """
        check_prefix(prefix)
        nets: dict[str, Network] = {}
        for i, spec in enumerate(networks or ()):
            path = f"networks[{i}]"
            name = _name(spec, path, NETWORK_RE, "1-12 characters: lower-case letters, digits, '-'")
            if name in nets:
                raise LabTopologyError(f"network {name!r} is described twice", path)
            try:
                pfx = ipaddress.IPv4Network(str(spec.get("prefix")), strict=True)
            except ValueError as e:
                raise LabTopologyError(f"prefix: not an IPv4 network ({e})", path) from None
            if pfx.prefixlen > 30:
                raise LabTopologyError("prefix: must be /30 or wider", path)
            for other in nets.values():
                if pfx.overlaps(other.prefix):
                    raise LabTopologyError(f"prefix {pfx} overlaps network {other.name!r} ({other.prefix})", path)
            nets[name] = Network(name, pfx)

        used: dict[ipaddress.IPv4Address, str] = {}
        ports: dict[str, str] = {}

        def address_of(spec: dict[str, Any], network: Network, path: str) -> ipaddress.IPv4Interface | None:
            host_no = spec.get("host")
            addr = spec.get("address")
            if host_no is not None and addr:
                raise LabTopologyError("give either host or address, not both", path)
            if host_no is None and not addr:
                return None
            if host_no is not None:
                hosts_in = network.prefix.num_addresses - 2
                if not isinstance(host_no, int) or isinstance(host_no, bool) or not 1 <= host_no <= hosts_in:
                    raise LabTopologyError(f"host: must be 1-{hosts_in} in {network.prefix}", path)
                ip = network.prefix.network_address + host_no
            else:
                try:
                    ip = ipaddress.IPv4Address(str(addr).split("/", maxsplit=1)[0])
                except ValueError as e:
                    raise LabTopologyError(f"address: {e}", path) from None
                if ip not in network.prefix or ip in (network.prefix.network_address,
                                                      network.prefix.broadcast_address):
                    raise LabTopologyError(f"address {ip} is not a host address of {network.prefix}", path)
            if ip in used:
                raise LabTopologyError(f"address {ip} is already used by {used[ip]}", path)
            used[ip] = path
            return ipaddress.IPv4Interface(f"{ip}/{network.prefix.prefixlen}")

        def claim_port(port: str, path: str) -> None:
            if len(port) > IFNAMSIZ:
                raise LabTopologyError(f"switch port name {port!r} is longer than {IFNAMSIZ} characters", path)
            if port in ports:
                raise LabTopologyError(f"switch port name {port!r} is also used by {ports[port]}", path)
            ports[port] = path

        def network_of(name: Any, path: str) -> Network:
            if name not in nets:
                raise LabTopologyError(f"unknown network {name!r}", path)
            return nets[name]

        # Hosts and interfaces first (routes may name any host as gateway).
        parsed: dict[str, tuple[dict[str, Any], list[Interface]]] = {}
        for h, hspec in enumerate(hosts or ()):
            hpath = f"hosts[{h}]"
            hname = _name(hspec, hpath, HOST_RE, "1-8 characters: lower-case letters and digits")
            if hname == SWITCH:
                raise LabTopologyError(f"{SWITCH!r} is reserved for the switch namespace", hpath)
            if hname in parsed:
                raise LabTopologyError(f"host {hname!r} is described twice", hpath)
            ifaces: list[Interface] = []
            for n, ispec in enumerate(hspec.get("interfaces") or ()):
                ipath = f"{hpath}.interfaces[{n}]"
                iname = _name(ispec, ipath, IFNAME_RE, "an interface name: lower-case letters, digits, '-'")
                if iname == "lo" or any(i.name == iname for i in ifaces):
                    raise LabTopologyError(f"interface {iname!r} is used twice (or is lo)", ipath)
                net = network_of(ispec.get("network"), ipath + ".network")
                roaming = tuple(dict.fromkeys(ispec.get("roaming") or ()))
                for r in roaming:
                    network_of(r, ipath + ".roaming")
                port = switch_port(hname, iname)
                claim_port(port, ipath)
                ifaces.append(Interface(iname, net.name, address_of(ispec, net, ipath), roaming, port))
            parsed[hname] = (hspec, ifaces)

        ups: list[Uplink] = []
        for u, uspec in enumerate(uplinks or ()):
            upath = f"uplinks[{u}]"
            uname = _name(uspec, upath, IFNAME_RE, "an interface name: lower-case letters, digits, '-'")
            net = network_of(uspec.get("network"), upath + ".network")
            claim_port(uname, upath)
            ups.append(Uplink(uname, net.name, address_of(uspec, net, upath)))

        result: dict[str, Host] = {}
        for hname, (hspec, ifaces) in parsed.items():
            routes: list[Route] = []
            for r, rspec in enumerate(hspec.get("routes") or ()):
                rpath = f"hosts[{list(parsed).index(hname)}].routes[{r}]"
                routes.append(_route(rspec, rpath, hname, ifaces, parsed, nets))
            dsts = [x.to for x in routes]
            if len(set(dsts)) != len(dsts):
                raise LabTopologyError("two routes to the same destination", f"host {hname}")
            result[hname] = Host(hname, tuple(ifaces), tuple(routes), bool(hspec.get("forwarding", False)))
        return cls(prefix, nets, result, tuple(ups))

    def to_dict(self) -> dict[str, Any]:
        """The resolved topology, JSON-friendly (what the module returns as ``topology``)."""
        def iface(interface: Interface) -> dict[str, Any]:
            return {
                "network": interface.network,
                "address": str(interface.address.ip) if interface.address else None,
                "prefix_length": interface.address.network.prefixlen if interface.address else None,
                "cidr": str(interface.address) if interface.address else None,
                "roaming": list(interface.networks) if interface.roaming else [],
                "switch_port": interface.port,
            }
        return {
            "prefix": self.prefix,
            "switch_namespace": self.switch_namespace,
            "networks": {n.name: {"prefix": str(n.prefix), "bridge": n.bridge} for n in self.networks.values()},
            "hosts": {
                h.name: {
                    "namespace": self.namespace(h.name),
                    "forwarding": h.forwarding,
                    "interfaces": {i.name: iface(i) for i in h.interfaces},
                    "routes": [{"to": r.dst, "via": str(r.via), "dev": r.dev, "keep_existing": r.keep_existing}
                               for r in h.routes],
                }
                for h in self.hosts.values()
            },
            "uplinks": {
                u.name: {"network": u.network, "address": str(u.address.ip) if u.address else None,
                         "prefix_length": u.address.network.prefixlen if u.address else None,
                         "cidr": str(u.address) if u.address else None}
                for u in self.uplinks
            },
        }


def _name(spec: Any, path: str, pattern: re.Pattern, what: str) -> str:
    if not isinstance(spec, dict):
        raise LabTopologyError("must be a mapping", path)
    name = spec.get("name")
    if not isinstance(name, str) or not pattern.match(name):
        raise LabTopologyError(f"name {name!r}: must be {what}", path)
    return name


def _route(spec: dict[str, Any], path: str, host: str, ifaces: list[Interface],
           hosts: dict[str, tuple[dict[str, Any], list[Interface]]], nets: dict[str, Network]) -> Route:
    to = spec.get("to")
    if to in (None, "default"):
        dst = DEFAULT_ROUTE
    elif to in nets:
        dst = nets[to].prefix
    else:
        try:
            dst = ipaddress.IPv4Network(str(to), strict=True)
        except ValueError:
            raise LabTopologyError(f"to: {to!r} is neither 'default', a network name nor an IPv4 prefix",
                                   path) from None
    dev = spec.get("dev")
    by_name = {i.name: i for i in ifaces}
    if dev is not None and dev not in by_name:
        raise LabTopologyError(f"dev: host {host!r} has no interface {dev!r}", path)
    via = spec.get("via")
    if via in hosts:
        gw_ifaces = hosts[via][1]
        shared = [(i, g) for i in ifaces for g in gw_ifaces
                  if i.network == g.network and (dev is None or i.name == dev) and g.address]
        if len(shared) != 1:
            raise LabTopologyError(
                f"via: host {via!r} {'shares no' if not shared else 'shares more than one'} network with "
                f"{'interface ' + repr(dev) if dev else 'host ' + repr(host)}; name the interface with dev", path)
        iface, gateway = shared[0]
        return Route(dst, gateway.address.ip, iface.name, bool(spec.get("keep_existing", False)))
    try:
        gw_ip = ipaddress.IPv4Address(str(via))
    except ValueError:
        raise LabTopologyError(f"via: {via!r} is neither a lab host nor an IPv4 address", path) from None
    on_link = [i for i in ifaces if i.address and gw_ip in i.address.network and (dev is None or i.name == dev)]
    if not on_link:
        raise LabTopologyError(f"via: {gw_ip} is on no network of {'interface ' + repr(dev) if dev else host!r}",
                               path)
    return Route(dst, gw_ip, on_link[0].name, bool(spec.get("keep_existing", False)))


# --------------------------------------------------------------------------------------------
# What is there


@dataclass(frozen=True)
class Link:
    name: str
    kind: str  # "veth", "bridge", ... ("" when unknown)
    ifindex: int
    peer_ifindex: int | None = None  # a veth's peer (in whichever namespace)
    master: str | None = None
    up: bool = False
    addresses: frozenset[str] = frozenset()  # IPv4 "a.b.c.d/len"

    @classmethod
    def from_ip_json(cls, entry: dict[str, Any]) -> Link:
        addrs = frozenset(f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", ())
                          if a.get("family") == "inet" and "local" in a)
        return cls(
            name=entry["ifname"],
            kind=(entry.get("linkinfo") or {}).get("info_kind", ""),
            ifindex=int(entry["ifindex"]),
            peer_ifindex=entry.get("link_index"),
            master=entry.get("master"),
            up="UP" in entry.get("flags", ()),
            addresses=addrs,
        )


@dataclass(frozen=True)
class RouteEntry:
    dst: str  # "default" or "a.b.c.d/len"
    gateway: str | None = None
    dev: str | None = None


@dataclass
class NamespaceState:
    links: dict[str, Link] = field(default_factory=dict)
    routes: list[RouteEntry] = field(default_factory=list)
    forwarding: bool | None = None


@dataclass
class Observed:
    """What exists: namespaces, the switch namespace's links, each host's state, root uplinks."""

    namespaces: frozenset[str] = frozenset()
    switch: dict[str, Link] = field(default_factory=dict)
    hosts: dict[str, NamespaceState] = field(default_factory=dict)  # keyed by namespace name
    root: dict[str, Link] = field(default_factory=dict)
    pids: dict[str, list[int]] = field(default_factory=dict)  # namespace -> processes in it


def _ip() -> str:
    return shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
                                       if os.path.exists(p)), "ip")


class Runner:
    """Runs the commands (``ip``, ``sysctl`` and friends). Tests substitute a recording fake."""

    def __init__(self, ip: str | None = None) -> None:
        self.ip = ip or _ip()

    def run(self, argv: Sequence[str], check: bool = True) -> str:
        argv = [self.ip if argv[0] == "ip" else argv[0], *argv[1:]]
        proc = subprocess.run(argv, capture_output=True, text=True,
                              check=False)
        if check and proc.returncode != 0:
            raise LabCommandError(argv, proc.returncode, proc.stderr)
        return proc.stdout

    def json(self, argv: Sequence[str]) -> Any:
        out = self.run(argv).strip()
        return json.loads(out) if out else []

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def kill(self, pid: int, sig: int) -> bool:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True


def list_namespaces(runner: Runner) -> frozenset[str]:
    names = set()
    for line in runner.run(["ip", "netns", "list"]).splitlines():
        if line.strip():
            names.add(line.split()[0])
    return frozenset(names)


def namespace_pids(runner: Runner, ns: str) -> list[int]:
    out = runner.run(["ip", "netns", "pids", ns], check=False)
    return sorted(int(x) for x in out.split() if x.isdigit())


def _links(runner: Runner, ns: str | None) -> dict[str, Link]:
    argv = ["ip"] + (["-n", ns] if ns else []) + ["-j", "-d", "addr", "show"]
    return {e["ifname"]: Link.from_ip_json(e) for e in runner.json(argv)}


def _routes(runner: Runner, ns: str) -> list[RouteEntry]:
    entries = runner.json(["ip", "-n", ns, "-j", "route", "show", "table", "main"])
    return [RouteEntry(e.get("dst", ""), e.get("gateway"), e.get("dev")) for e in entries]


def _forwarding(runner: Runner, ns: str) -> bool:
    return runner.run(["ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward"]).strip() == "1"


def observe(prefix: str, uplinks: Sequence[str] = (), runner: Runner | None = None,
            hosts: Sequence[str] | None = None, with_pids: bool = False) -> Observed:
    """Read the lab's current state. ``hosts``: only these hosts' namespaces (default all of the lab's)."""
    runner = runner or Runner()
    check_prefix(prefix)
    namespaces = list_namespaces(runner)
    mine = lab_namespaces(prefix, sorted(namespaces))
    obs = Observed(namespaces=namespaces)
    switch_ns = switch_namespace(prefix)
    if switch_ns in namespaces:
        obs.switch = _links(runner, switch_ns)
    for ns in mine:
        if ns == switch_ns:
            continue
        if hosts is not None and ns not in {namespace_name(prefix, h) for h in hosts}:
            continue
        obs.hosts[ns] = NamespaceState(_links(runner, ns), _routes(runner, ns), _forwarding(runner, ns))
    if uplinks:
        root = _links(runner, None)
        obs.root = {n: root[n] for n in uplinks if n in root}
    if with_pids:
        obs.pids = {ns: namespace_pids(runner, ns) for ns in mine}
    return obs


# --------------------------------------------------------------------------------------------
# Plans


@dataclass(frozen=True)
class Action:
    """One step: a description for people, the commands that carry it out (in order).

    ``kill_namespace``: before the commands, end every process in that namespace (TERM, then KILL).
    """

    description: str
    commands: tuple[tuple[str, ...], ...] = ()
    kill_namespace: str = ""

    def command_lines(self) -> list[str]:
        lines = [f"kill processes in netns {self.kill_namespace}"] if self.kill_namespace else []
        return lines + [" ".join(c) for c in self.commands]


def _veth_pair_ok(one: Link | None, other: Link | None) -> bool:
    return (one is not None and other is not None and one.kind == "veth" and other.kind == "veth"
            and one.peer_ifindex == other.ifindex and other.peer_ifindex == one.ifindex)


def plan_present(topo: Topology, obs: Observed) -> list[Action]:
    """The actions that make ``topo`` exist, given ``obs``. Empty when everything is as wanted.

    Never removed: addresses and routes it did not add (agents running in the lab add their own);
    a roaming interface's switch port attached to any of its networks; with ``keep_existing``, a route
    to the same destination through another gateway. Removed: lab namespaces of hosts no longer
    described (with their processes), bridges of networks no longer described.
    """
    actions: list[Action] = []
    switch_ns = topo.switch_namespace
    wanted_ns = {topo.namespace(h) for h in topo.hosts}
    for ns in lab_namespaces(topo.prefix, sorted(obs.namespaces)):
        if ns != switch_ns and ns not in wanted_ns:
            actions.append(Action(f"remove namespace {ns} (host no longer in the lab)",
                                  (("ip", "netns", "del", ns),), kill_namespace=ns))

    for ns in [switch_ns] + [topo.namespace(h) for h in topo.hosts]:
        if ns not in obs.namespaces:
            actions.append(Action(f"create namespace {ns}", (("ip", "netns", "add", ns),
                                                             ("ip", "-n", ns, "link", "set", "lo", "up"))))
        else:
            lo = (obs.switch if ns == switch_ns else obs.hosts.get(ns, NamespaceState()).links).get("lo")
            if lo is not None and not lo.up:
                actions.append(Action(f"set lo up in {ns}", (("ip", "-n", ns, "link", "set", "lo", "up"),)))

    switch = obs.switch if switch_ns in obs.namespaces else {}
    bridges = {n.bridge: n for n in topo.networks.values()}
    for name, link in sorted(switch.items()):
        if link.kind == "bridge" and name not in bridges:
            actions.append(Action(f"remove bridge {name} from {switch_ns} (network no longer in the lab)",
                                  (("ip", "-n", switch_ns, "link", "del", name),)))
    for net in topo.networks.values():
        have = switch.get(net.bridge)
        if have is None or have.kind != "bridge":
            cmds: list[tuple[str, ...]] = []
            if have is not None:
                cmds.append(("ip", "-n", switch_ns, "link", "del", net.bridge))
            cmds += [("ip", "-n", switch_ns, "link", "add", net.bridge, "type", "bridge"),
                     ("ip", "-n", switch_ns, "link", "set", net.bridge, "up")]
            actions.append(Action(f"create bridge {net.bridge} ({net.prefix}) in {switch_ns}", tuple(cmds)))
        elif not have.up:
            actions.append(Action(f"set bridge {net.bridge} up",
                                  (("ip", "-n", switch_ns, "link", "set", net.bridge, "up"),)))

    for host in topo.hosts.values():
        ns = topo.namespace(host.name)
        state = obs.hosts.get(ns, NamespaceState()) if ns in obs.namespaces else NamespaceState()
        recreated = set()
        for iface in host.interfaces:
            link_actions, fresh = _plan_link(switch_ns, switch, ns, state.links, iface.name, iface.port,
                                             iface.networks, topo.networks[iface.network].bridge,
                                             iface.address, f"{host.name} {iface.name}")
            actions += link_actions
            if fresh:
                recreated.add(iface.name)
        for route in host.routes:
            if route.dev in recreated or not _route_ok(route, state.routes):
                actions.append(Action(
                    f"route {route.dst} via {route.via} dev {route.dev} in {ns}",
                    (("ip", "-n", ns, "route", "replace", route.dst, "via", str(route.via), "dev", route.dev),)))
        if (state.forwarding is None and host.forwarding) or (state.forwarding is not None
                                                              and state.forwarding != host.forwarding):
            value = "1" if host.forwarding else "0"
            actions.append(Action(f"ip_forward={value} in {ns}",
                                  (("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv4.ip_forward={value}"),)))

    for up in topo.uplinks:
        actions += _plan_link(switch_ns, switch, "", obs.root, up.name, up.name, (up.network,),
                              topo.networks[up.network].bridge, up.address, f"uplink {up.name}")[0]
    return actions


def _plan_link(switch_ns: str, switch: dict[str, Link], ns: str, links: dict[str, Link], ifname: str, port: str,
               networks: tuple[str, ...], bridge: str, address: ipaddress.IPv4Interface | None,
               what: str) -> tuple[list[Action], bool]:
    """Actions for one veth pair: ``ifname`` in ``ns`` ("" = root namespace), ``port`` on ``bridge``.

    Also tells whether the pair is (re)made - the kernel then drops the routes through it.
    """
    at = ("ip", "-n", ns) if ns else ("ip",)
    where = ns or "the root namespace"
    actions: list[Action] = []
    have, have_port = links.get(ifname), switch.get(port)
    fresh = not _veth_pair_ok(have, have_port)
    if fresh:
        cmds: list[tuple[str, ...]] = []
        if have is not None:
            cmds.append(at + ("link", "del", ifname))
        if have_port is not None and not (have is not None and have.kind == "veth"
                                          and have.peer_ifindex == have_port.ifindex):
            cmds.append(("ip", "-n", switch_ns, "link", "del", port))
        if ns:
            cmds.append(("ip", "-n", switch_ns, "link", "add", port, "type", "veth", "peer", "name", ifname,
                         "netns", ns))
        else:  # uplink: made in the root namespace, its switch end moved into the switch namespace
            cmds.append(("ip", "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", switch_ns))
        cmds += [("ip", "-n", switch_ns, "link", "set", port, "master", bridge, "up"),
                 at + ("link", "set", ifname, "up")]
        if address is not None:
            cmds.append(at + ("addr", "add", str(address), "dev", ifname))
        actions.append(Action(f"create {what}: veth {ifname} in {where} <-> {port} on {bridge}"
                              + (f", address {address}" if address else ""), tuple(cmds)))
        return actions, True
    if have is None or have_port is None:  # cannot be: a pair is fresh unless both ends exist
        raise LabTopologyError(f"{what}: veth pair in an unexpected state")
    allowed = {bridge_name(n) for n in networks}
    if have_port.master not in allowed:
        actions.append(Action(f"attach {what} ({port}) to {bridge}",
                              (("ip", "-n", switch_ns, "link", "set", port, "master", bridge, "up"),)))
    elif not have_port.up:
        actions.append(Action(f"set switch port {port} up", (("ip", "-n", switch_ns, "link", "set", port, "up"),)))
    if not have.up:
        actions.append(Action(f"set {what} up", (at + ("link", "set", ifname, "up"),)))
    if address is not None and str(address) not in have.addresses:
        actions.append(Action(f"address {address} on {what}", (at + ("addr", "add", str(address), "dev", ifname),)))
    return actions, False


def _route_ok(route: Route, have: list[RouteEntry]) -> bool:
    same_dst = [r for r in have if r.dst == route.dst]
    if any(r.gateway == str(route.via) and r.dev == route.dev for r in same_dst):
        return True
    return route.keep_existing and bool(same_dst)


def plan_absent(prefix: str, obs: Observed, uplinks: Sequence[str] = ()) -> list[Action]:
    """The actions that remove the lab: every process in its namespaces, root uplinks, the namespaces.

    Processes end first, while the uplinks still exist: connections to them (an SSH client's control
    master on the controller) see them close instead of hanging.
    """
    switch_ns = switch_namespace(prefix)
    mine = lab_namespaces(prefix, sorted(obs.namespaces))
    mine = [n for n in mine if n != switch_ns] + [n for n in mine if n == switch_ns]
    actions = [Action(f"end the {len(obs.pids[ns])} process(es) in namespace {ns}", kill_namespace=ns)
               for ns in mine if obs.pids.get(ns)]
    actions += [Action(f"remove uplink {name} from the root namespace", (("ip", "link", "del", name),))
                for name in uplinks if name in obs.root]
    for ns in mine:
        actions.append(Action(f"remove namespace {ns}", (("ip", "netns", "del", ns),), kill_namespace=ns))
    return actions


def plan_roam(prefix: str, host: str, ifname: str, network: str, obs: Observed,
              carrier_down: float = 0.5) -> list[Action]:
    """Move ``host``'s interface ``ifname`` (its switch port) to ``network``'s bridge, carrier down then up.

    Nothing to do when the port is on that bridge and up already.
    """
    switch_ns = switch_namespace(prefix)
    port = switch_port(host, ifname)
    bridge = bridge_name(network)
    if switch_ns not in obs.namespaces:
        raise LabTopologyError(f"the lab {prefix!r} does not exist (no namespace {switch_ns})")
    have = obs.switch.get(port)
    if have is None:
        raise LabTopologyError(f"host {host!r} has no interface {ifname!r} in lab {prefix!r} (no port {port})")
    target = obs.switch.get(bridge)
    if target is None or target.kind != "bridge":
        raise LabTopologyError(f"lab {prefix!r} has no network {network!r} (no bridge {bridge})")
    if have.master == bridge and have.up:
        return []
    cmds: list[tuple[str, ...]] = [("ip", "-n", switch_ns, "link", "set", port, "down")]
    if carrier_down > 0:
        cmds.append(("sleep", f"{carrier_down:g}"))
    cmds += [("ip", "-n", switch_ns, "link", "set", port, "master", bridge),
             ("ip", "-n", switch_ns, "link", "set", port, "up")]
    return [Action(f"move {host} {ifname} from {have.master or 'no bridge'} to {bridge} (carrier down "
                   f"{carrier_down:g} s)", tuple(cmds))]


# --------------------------------------------------------------------------------------------
# Carrying plans out


@dataclass
class Result:
    changed: bool
    actions: list[Action]

    @property
    def descriptions(self) -> list[str]:
        return [a.description for a in self.actions]

    @property
    def commands(self) -> list[str]:
        return [line for a in self.actions for line in a.command_lines()]


def kill_namespace_processes(runner: Runner, ns: str, timeout: float = 5.0) -> list[int]:
    """End every process in namespace ``ns``: TERM, wait up to ``timeout`` s, then KILL. Returns the pids."""
    killed: list[int] = []
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        pids = [p for p in namespace_pids(runner, ns) if p != os.getpid()]
        if not pids:
            break
        for pid in pids:
            if runner.kill(pid, sig) and pid not in killed:
                killed.append(pid)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and namespace_pids(runner, ns):
            runner.sleep(0.05)
    if namespace_pids(runner, ns):
        raise LabTopologyError(f"processes in namespace {ns} did not end")
    return killed


def apply(actions: Sequence[Action], runner: Runner | None = None, kill_timeout: float = 5.0,
          log: Callable[[str], None] | None = None) -> None:
    """Carry out ``actions`` in order; the first failing command raises :class:`LabCommandError`."""
    runner = runner or Runner()
    for action in actions:
        if log:
            log(action.description)
        if action.kill_namespace:
            kill_namespace_processes(runner, action.kill_namespace, kill_timeout)
        for cmd in action.commands:
            if cmd[0] == "sleep":
                runner.sleep(float(cmd[1]))
            else:
                runner.run(cmd)


def ensure_present(topo: Topology, check: bool = False, runner: Runner | None = None) -> Result:
    """Make ``topo`` exist. With ``check``, only say what would be done."""
    runner = runner or Runner()
    obs = observe(topo.prefix, [u.name for u in topo.uplinks], runner)
    actions = plan_present(topo, obs)
    if not check:
        apply(actions, runner)
    return Result(bool(actions), actions)


def ensure_absent(prefix: str, uplinks: Sequence[str] = (), check: bool = False, runner: Runner | None = None,
                  kill_timeout: float = 5.0) -> Result:
    """Remove every namespace of lab ``prefix`` (ending the processes in them) and the named root uplinks."""
    runner = runner or Runner()
    obs = observe(prefix, uplinks, runner, hosts=(), with_pids=True)
    actions = plan_absent(prefix, obs, uplinks)
    if not check:
        apply(actions, runner, kill_timeout)
    return Result(bool(actions), actions)


def ensure_roamed(prefix: str, host: str, ifname: str, network: str, carrier_down: float = 0.5,
                  check: bool = False, runner: Runner | None = None) -> tuple[Result, str | None]:
    """Attach ``host``'s ``ifname`` to ``network``. Returns the result and the bridge it was on before."""
    runner = runner or Runner()
    check_prefix(prefix)
    obs = observe(prefix, runner=runner, hosts=())
    before = obs.switch.get(switch_port(host, ifname))
    actions = plan_roam(prefix, host, ifname, network, obs, carrier_down)
    if not check:
        apply(actions, runner)
    return Result(bool(actions), actions), (before.master if before else None)


def attachment(prefix: str, host: str, ifname: str, runner: Runner | None = None) -> str | None:
    """The bridge ``host``'s ``ifname`` is attached to now (None: not attached or no such port)."""
    runner = runner or Runner()
    switch_ns = switch_namespace(prefix)
    links = _links(runner, switch_ns) if switch_ns in list_namespaces(runner) else {}
    link = links.get(switch_port(host, ifname))
    return link.master if link else None
