#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_roam
short_description: Move a lab host's interface to another network of the lab
version_added: 1.0.0
description:
  - In a lab built by M(netmobility.mobileip.lab_network), moves the switch end (C(<host>-<interface>)) of a host
    interface to another network's bridge - the host is unplugged from one network and plugged into the other.
  - The switch end is set down, moved, and set up again after O(carrier_down) seconds, so the host sees its carrier
    go down and come back (a link change, as a mobile node moving between foreign networks would).
  - Nothing changes when the interface is attached to that network already (and up).
  - Runs on the machine holding the lab (a play for C(localhost)), as root.
author:
  - netmobility.mobileip contributors (@netmobility)
attributes:
  check_mode:
    support: full
    description: Says whether the interface would move, moves nothing.
  diff_mode:
    support: none
    description: Returns no diff; the RV(previous) and RV(bridge) tell the move.
  platform:
    support: full
    platforms: posix
    description: Linux, as root, with network namespaces.
options:
  prefix:
    description:
      - The lab's prefix (O(netmobility.mobileip.lab_network#module:prefix)).
    type: str
    required: true
  host:
    description:
      - The lab host, for example V(mn1).
    type: str
    required: true
  interface:
    description:
      - The host's interface, for example V(eth0).
    type: str
    required: true
  to:
    description:
      - The network to attach it to, for example V(visit1).
    type: str
    required: true
  carrier_down:
    description:
      - Seconds the interface stays without carrier while it moves (V(0) - down and up at once).
    type: float
    default: 0.5
seealso:
  - module: netmobility.mobileip.lab_network
"""

EXAMPLES = r"""
- name: Move mobile node mn1 to the first foreign network
  netmobility.mobileip.lab_roam:
    prefix: mlab
    host: mn1
    interface: eth0
    to: visit1

- name: And back home, with a longer outage
  netmobility.mobileip.lab_roam:
    prefix: mlab
    host: mn1
    interface: eth0
    to: home
    carrier_down: 2
"""

RETURN = r"""
previous:
  description: The bridge the interface was attached to before (null if none).
  returned: always
  type: str
  sample: br-home
bridge:
  description: The bridge it is attached to now (in check mode, would be).
  returned: always
  type: str
  sample: br-visit1
switch_port:
  description: The moved interface's switch end, in the lab's switch namespace.
  returned: always
  type: str
  sample: mn1-eth0
actions:
  description: What was done (or would be), one line per step. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["move mn1 eth0 from br-home to br-visit1 (carrier down 0.5 s)"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "prefix": {"type": "str", "required": True},
            "host": {"type": "str", "required": True},
            "interface": {"type": "str", "required": True},
            "to": {"type": "str", "required": True},
            "carrier_down": {"type": "float", "default": 0.5},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["carrier_down"] < 0:
        module.fail_json(msg="carrier_down: must be 0 or more")
    try:
        result, previous = lt.ensure_roamed(p["prefix"], p["host"], p["interface"], p["to"],
                                            carrier_down=p["carrier_down"], check=module.check_mode)
    except (lt.LabTopologyError, lt.LabCommandError) as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=result.changed, previous=previous, bridge=lt.bridge_name(p["to"]),
                     switch_port=lt.switch_port(p["host"], p["interface"]), actions=result.descriptions)


if __name__ == "__main__":
    main()
