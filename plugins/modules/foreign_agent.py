#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: foreign_agent
short_description: Manage a Mobile IPv4 foreign agent
version_added: 1.0.0
description:
  - Configures the foreign agent (RFC 5944 sections 2.3 and 3.7) of a host running the bundled C(mipd) agent - the
    foreign_agent section of its configuration file - the links it serves, the care-of addresses it offers, its
    agent advertisements and what registrations it accepts.
  - Which home agents visitors may use is managed with M(netmobility.mobileip.registration_filters).
  - On an IOS-like router (C(ansible_network_os) ios) the module runs on the controller and works on the router's
    C(ip mobile) configuration, over netmiko from the inventory's connection variables or the host's
    C(ansible.netcommon.network_cli) connection (see O(transport), O(save_when)). docs/ios_mapping.md lists the
    IOS line of each option.
author:
  - netmobility.mobileip contributors (@netmobility)
extends_documentation_fragment:
  - netmobility.mobileip.mipd
  - netmobility.mobileip.mipd.resource_states
  - netmobility.mobileip.mipd.platform
  - netmobility.mobileip.mipd.ios
  - netmobility.mobileip.mipd.transport
options:
  config:
    description:
      - The foreign agent. With O(state=deleted) it is not used - the whole foreign_agent section (and its filter)
        is removed.
    type: dict
    suboptions:
      interfaces:
        description:
          - The links where visiting mobile nodes attach, identified by O(config.interfaces[].name). Required (at
            least one) when the foreign agent is created.
          - With O(state=merged) interfaces are updated or added by name; with O(state=replaced) the interfaces
            named are replaced and the others kept; with O(state=overridden) the list is exactly this.
        type: list
        elements: dict
        suboptions:
          name:
            description: The interface name.
            type: str
          address:
            description: The foreign agent's address on that link (the source of its advertisements).
            type: str
          prefix_length:
            description: The link's prefix length, 1-32. Default 24.
            type: int
          care_of_addresses:
            description:
              - The care-of addresses advertised on that link. Default the interface's
                O(config.interfaces[].address).
            type: list
            elements: str
      advertisement:
        description: Agent advertisements (RFC 5944 section 2.1).
        type: dict
        suboptions:
          interval:
            description:
              - Mean seconds between advertisements (randomised); at most a third of O(config.advertisement.lifetime).
                Default 5.
            type: float
          lifetime:
            description: The advertisement's ICMP lifetime, seconds, 1-65535. Default 15.
            type: int
          code:
            description: V(16) - mobility agent only; V(0) - also routes common traffic. Default 16.
            type: int
            choices: [0, 16]
          prefix_lengths:
            description: Include the Prefix-Lengths extension (RFC 5944 section 2.1.2). Default V(true).
            type: bool
          challenge:
            description: Put RFC 3012 challenges in advertisements. Default V(false).
            type: bool
          broadcast:
            description:
              - Send advertisements to 255.255.255.255 instead of the all-systems group 224.0.0.1. Default V(false).
            type: bool
      registration_lifetime:
        description: Longest registration lifetime accepted, seconds, 1-65535 (longer gets code 69). Default 1800.
        type: int
      registration_required:
        description: Set the R bit - co-located mobile nodes must register through this agent too. Default V(false).
        type: bool
      reverse_tunnel:
        description:
          - Reverse tunnelling (RFC 3024) - V(off), V(offered) (the T bit in advertisements) or V(mandatory)
            (requests without T get code 75). Default V(offered).
          - Quote V('off') in YAML, which otherwise reads it as false.
        type: str
        choices: ["off", offered, mandatory]
      encapsulations:
        description: Tunnel encapsulations offered. Default all three.
        type: list
        elements: str
        choices: [ipip, gre, minimal]
      visitor_limit:
        description:
          - Visitors served at once; 0 is unlimited. At the limit the B bit is set and requests get code 66. Default 0.
        type: int
      pending_limit:
        description: Pending requests held at once (RFC 5944 section 3.7.1), beyond that code 66. Default 5.
        type: int
      pending_timeout:
        description: Seconds a relayed request may stay pending (then code 78), up to 3600. Default 7.
        type: float
      require_fa_ha_auth:
        description:
          - Relay registrations only with an FA-HA authentication extension (RFC 5944 section 3.5.4); a request for a
            home agent with no FA-HA SA (none in the keys file, none from RADIUS) is refused with code 65. Default
            false (relayed without one; the home agent decides). Linux hosts only.
        type: bool
"""

EXAMPLES = r"""
- name: Foreign agent on the visited link
  netmobility.mobileip.foreign_agent:
    config:
      interfaces:
        - name: eth2
          address: 10.2.0.1
          prefix_length: 24
      advertisement:
        interval: 1
        lifetime: 3
      reverse_tunnel: offered

- name: Another served link, the first one kept
  netmobility.mobileip.foreign_agent:
    config:
      interfaces:
        - name: eth3
          address: 10.3.0.1
          care_of_addresses: [10.3.0.1]

- name: Exactly these settings on eth2 (eth3 kept), everything else at its defaults
  netmobility.mobileip.foreign_agent:
    config:
      interfaces:
        - name: eth2
          address: 10.2.0.1
      reverse_tunnel: mandatory
    state: replaced

- name: What would change, without changing it
  netmobility.mobileip.foreign_agent:
    config:
      visitor_limit: 100
  check_mode: true
  diff: true
"""

RETURN = r"""
before:
  description: The foreign agent before the task ({} when there was none).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"interfaces": [{"name": "eth2", "address": "10.2.0.1"}], "visitor_limit": 0}
after:
  description: The foreign agent after the task (what it would be, in check mode).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"interfaces": [{"name": "eth2", "address": "10.2.0.1"}], "visitor_limit": 100}
commands:
  description: One line per change.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["foreign_agent.visitor_limit: 0 -> 100", "foreign_agent.interfaces[eth3]: added (address=10.3.0.1, ...)"]
gathered:
  description: The foreign agent the host holds.
  returned: when O(state=gathered)
  type: dict
rendered:
  description: The foreign_agent section of the agent's configuration file that O(config) makes.
  returned: when O(state=rendered)
  type: str
parsed:
  description: The foreign agent parsed from O(running_config).
  returned: when O(state=parsed)
  type: dict
written:
  description: The files written.
  returned: when something changed, not in check mode
  type: list
  elements: str
validated:
  description: Whether C(mipd check-config) accepted the new files (false when the agent is not installed).
  returned: when something changed, not in check mode
  type: bool
reloaded:
  description: Whether the running agent reloaded its configuration.
  returned: when something changed, not in check mode
  type: bool
restart_needed:
  description: What the running agent only takes after a restart (V(roles) when a role was added or removed).
  returned: when something changed, not in check mode
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module


def main() -> None:
    module = AnsibleModule(argument_spec=resource_module.argument_spec("foreign_agent"),
                           **resource_module.MODULE_KWARGS)
    resource_module.run(module, "foreign_agent")


if __name__ == "__main__":
    main()
