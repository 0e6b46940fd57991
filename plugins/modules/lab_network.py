#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_network
short_description: Build or remove a lab network of Linux network namespaces
version_added: 1.0.0
description:
  - Makes a described topology of network namespaces exist on the machine it runs on (O(state=present)) or removes
    it (O(state=absent)). Meant for the controller, in a play for C(localhost), as root; it is what the
    C(netmobility.mobileip.lab) role builds its Mobile IP lab with.
  - One namespace per lab host, named C(<prefix>-<host>). Every bridge lives in one switch namespace
    C(<prefix>-sw) (bridge C(br-<network>)), so nothing but the uplinks lands in the root namespace.
  - Each host interface is one veth pair - the interface in the host's namespace, its switch end
    C(<host>-<interface>) on the network's bridge - with the address given.
  - Uplinks are veths from the root namespace to a bridge, with an address on the root side (a management
    network through which the controller reaches every host).
  - Routes are added inside the host namespaces and C(net.ipv4.ip_forward) is set per host.
  - Idempotent - what exists and is as described is left alone. Addresses and routes it did not add are never
    removed (agents running in the lab add their own); a roaming interface (O(hosts[].interfaces[].roaming)) found on
    any of its networks stays there; lab namespaces of hosts no longer described are removed, with their processes.
  - O(state=absent) ends every process in the lab's namespaces (TERM, then KILL), deletes the namespaces (and so
    every veth and bridge in them) and the root namespace's uplinks.
  - The switch port of a host interface is moved to another network with M(netmobility.mobileip.lab_roam).
  - Uses the C(ip) command of iproute2 and C(sysctl).
author:
  - netmobility.mobileip contributors (@netmobility)
attributes:
  check_mode:
    support: full
    description: Computes and returns the actions, carries none out.
  diff_mode:
    support: none
    description: Returns no diff; O(state=present) returns the actions instead.
  platform:
    support: full
    platforms: posix
    description: Linux, as root, with network namespaces.
options:
  prefix:
    description:
      - The lab's name, 1-12 lower-case letters and digits starting with a letter. Every namespace of the lab is
        called C(<prefix>-<host>); labs with different prefixes do not touch each other.
    type: str
    required: true
  state:
    description:
      - V(present) builds the lab (or completes it), V(absent) removes every namespace of the prefix and the
        uplinks named in O(uplinks).
    type: str
    choices: [present, absent]
    default: present
  networks:
    description:
      - The lab's networks (one bridge each). Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - 1-12 characters, lower-case letters, digits and C(-). The bridge is C(br-<name>).
        type: str
        required: true
      prefix:
        description:
          - The network's IPv4 prefix, for example V(10.100.1.0/24), /30 or wider; networks must not overlap.
        type: str
        required: true
  hosts:
    description:
      - The lab's hosts (one namespace each). Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - 1-8 lower-case letters and digits, starting with a letter; V(sw) is reserved.
        type: str
        required: true
      forwarding:
        description:
          - Whether the host routes (C(net.ipv4.ip_forward)).
        type: bool
        default: false
      interfaces:
        description:
          - The host's interfaces. C(<host>-<interface>) must fit in 15 characters.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - The interface's name inside the host's namespace.
            type: str
            required: true
          network:
            description:
              - The network it is attached to when created.
            type: str
            required: true
          host:
            description:
              - The address as a host number in the network - V(1) is the network's first address. Mutually
                exclusive with O(hosts[].interfaces[].address).
            type: int
          address:
            description:
              - The address, in the network (a prefix length given is ignored - the network's is used).
            type: str
          roaming:
            description:
              - Other networks the interface may be moved to (with M(netmobility.mobileip.lab_roam)). Found attached
                to any of them, it is left there.
            type: list
            elements: str
            default: []
      routes:
        description:
          - Routes in the host's namespace (main table).
        type: list
        elements: dict
        default: []
        suboptions:
          to:
            description:
              - V(default), an IPv4 prefix or the name of a lab network.
            type: str
            default: default
          via:
            description:
              - The gateway - an IPv4 address or the name of a lab host (then its address on the network of
                O(hosts[].routes[].dev), or on the only network the two hosts share).
            type: str
            required: true
          dev:
            description:
              - The interface the route goes out of. Default is the interface on the gateway's network.
            type: str
          keep_existing:
            description:
              - Leave an existing route to the same destination alone even when its gateway differs (for a
                mobile node, whose agent changes its default route when it moves).
            type: bool
            default: false
  uplinks:
    description:
      - Veths from the root namespace to a lab network, with the root side's address.
      - With O(state=absent), the uplinks named here are removed from the root namespace.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The interface's name in the root namespace (also its switch end's name), up to 15 characters.
        type: str
        required: true
      network:
        description:
          - The network it is attached to. Required with O(state=present).
        type: str
      host:
        description:
          - The address as a host number in the network. Mutually exclusive with O(uplinks[].address).
        type: int
      address:
        description:
          - The address, in the network.
        type: str
  kill_timeout:
    description:
      - With O(state=absent) (and for namespaces of hosts no longer described), how long processes in a namespace
        get after SIGTERM before SIGKILL, in seconds.
    type: float
    default: 5.0
notes:
  - Runs on the machine whose namespaces it manages - use it in a play for C(localhost) with a local connection.
seealso:
  - module: netmobility.mobileip.lab_roam
  - name: ip-netns(8)
    description: Process network namespace management.
    link: https://man7.org/linux/man-pages/man8/ip-netns.8.html
"""

EXAMPLES = r"""
- name: Two hosts on one network, reachable from the controller over a management network
  netmobility.mobileip.lab_network:
    prefix: demo
    networks:
      - {name: mgmt, prefix: 10.254.0.0/24}
      - {name: lan, prefix: 10.100.1.0/24}
    hosts:
      - name: a
        interfaces:
          - {name: mgmt0, network: mgmt, host: 2}
          - {name: eth0, network: lan, host: 1}
      - name: b
        interfaces:
          - {name: mgmt0, network: mgmt, host: 3}
          - {name: eth0, network: lan, host: 2}
        routes:
          - {to: default, via: a, dev: eth0}
    uplinks:
      - {name: demo-mg, network: mgmt, host: 1}
  register: lab

- name: Show the address of b on the LAN
  ansible.builtin.debug:
    msg: "{{ lab.topology.hosts.b.interfaces.eth0.address }}"

- name: Remove it again (processes in its namespaces are ended)
  netmobility.mobileip.lab_network:
    prefix: demo
    state: absent
    uplinks:
      - name: demo-mg
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), one line per step. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["create namespace demo-sw", "create bridge br-lan (10.100.1.0/24) in demo-sw",
           "create a eth0: veth eth0 in demo-a <-> a-eth0 on br-lan, address 10.100.1.1/24"]
commands:
  description: The commands behind O(state=present)'s or O(state=absent)'s actions, in order.
  returned: always
  type: list
  elements: str
  sample: ["ip netns add demo-sw", "ip -n demo-sw link set lo up"]
topology:
  description: The resolved topology (addresses computed, names derived), with O(state=present).
  returned: when O(state=present)
  type: dict
  contains:
    prefix:
      description: The lab's prefix.
      type: str
    switch_namespace:
      description: The namespace holding the bridges.
      type: str
      sample: demo-sw
    networks:
      description: Per network, its C(prefix) and C(bridge).
      type: dict
      sample: {"lan": {"prefix": "10.100.1.0/24", "bridge": "br-lan"}}
    hosts:
      description: Per host, its C(namespace), C(forwarding), C(interfaces) (per interface C(network), C(address),
        C(prefix_length), C(cidr), C(roaming), C(switch_port)) and C(routes) (C(to), C(via), C(dev),
        C(keep_existing)).
      type: dict
      sample: {"b": {"namespace": "demo-b", "forwarding": false,
                     "interfaces": {"eth0": {"network": "lan", "address": "10.100.1.2", "prefix_length": 24,
                                             "cidr": "10.100.1.2/24", "roaming": [], "switch_port": "b-eth0"}},
                     "routes": [{"to": "default", "via": "10.100.1.1", "dev": "eth0", "keep_existing": false}]}}
    uplinks:
      description: Per uplink, its C(network), C(address), C(prefix_length) and C(cidr).
      type: dict
      sample: {"demo-mg": {"network": "mgmt", "address": "10.254.0.1", "prefix_length": 24,
                           "cidr": "10.254.0.1/24"}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

INTERFACE = {
    "name": {"type": "str", "required": True},
    "network": {"type": "str", "required": True},
    "host": {"type": "int"},
    "address": {"type": "str"},
    "roaming": {"type": "list", "elements": "str", "default": []},
}
ROUTE = {
    "to": {"type": "str", "default": "default"},
    "via": {"type": "str", "required": True},
    "dev": {"type": "str"},
    "keep_existing": {"type": "bool", "default": False},
}
ARGUMENT_SPEC = {
    "prefix": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "networks": {
        "type": "list", "elements": "dict",
        "options": {"name": {"type": "str", "required": True}, "prefix": {"type": "str", "required": True}},
    },
    "hosts": {
        "type": "list", "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "forwarding": {"type": "bool", "default": False},
            "interfaces": {"type": "list", "elements": "dict", "default": [], "options": INTERFACE,
                           "mutually_exclusive": [["host", "address"]]},
            "routes": {"type": "list", "elements": "dict", "default": [], "options": ROUTE},
        },
    },
    "uplinks": {
        "type": "list", "elements": "dict", "default": [],
        "options": {"name": {"type": "str", "required": True}, "network": {"type": "str"},
                    "host": {"type": "int"}, "address": {"type": "str"}},
        "mutually_exclusive": [["host", "address"]],
    },
    "kill_timeout": {"type": "float", "default": 5.0},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[["state", "present", ["networks", "hosts"]]])
    p = module.params
    try:
        lt.check_prefix(p["prefix"])
        if p["state"] == "absent":
            result = lt.ensure_absent(p["prefix"], [u["name"] for u in p["uplinks"]], check=module.check_mode,
                                      kill_timeout=p["kill_timeout"])
            module.exit_json(changed=result.changed, actions=result.descriptions, commands=result.commands)
        for i, up in enumerate(p["uplinks"]):
            if not up.get("network"):
                raise lt.LabTopologyError("network is required with state=present", f"uplinks[{i}]")
        topo = lt.Topology.from_spec(p["prefix"], p["networks"], p["hosts"], p["uplinks"])
        result = lt.ensure_present(topo, check=module.check_mode)
    except (lt.LabTopologyError, lt.LabCommandError) as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=result.changed, actions=result.descriptions, commands=result.commands,
                     topology=topo.to_dict())


if __name__ == "__main__":
    main()
