#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mobile_node
short_description: Manage a Mobile IPv4 mobile node
version_added: 1.0.0
description:
  - Configures the mobile node (RFC 5944 section 3.6) of a host running the bundled C(mipd) agent - the mobile_node
    section of its configuration file - its home address, home agent, the links it may roam on and what it asks for
    when it registers.
  - The node needs a security association with its home agent (RFC 5944 section 3.5.2); add it first with
    M(netmobility.mobileip.security_associations). A host is either a mobile node or a home/foreign agent.
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
      - The mobile node. With O(state=deleted) it is not used - the whole mobile_node section is removed.
    type: dict
    suboptions:
      home_address:
        description: The node's home address. Required when the mobile node is created.
        type: str
      home_agent:
        description: Its home agent's address. Required when the mobile node is created.
        type: str
      home_prefix_length:
        description: The home network's prefix length, 1-32. Default 24.
        type: int
      home_gateway:
        description: The default router on the home network (must be on it).
        type: str
      nai:
        description: The node's Network Access Identifier (RFC 2794), V(user@realm).
        type: str
      interfaces:
        description: The links the node may roam on. Required (at least one) when the mobile node is created.
        type: list
        elements: str
      colocated:
        description: Register a co-located care-of address (D bit) instead of a foreign agent's. Default V(false).
        type: bool
      reverse_tunnel:
        description: Ask for reverse tunnelling (RFC 3024 T bit). Default V(false).
        type: bool
      encapsulation:
        description: The preferred tunnel encapsulation. Default V(ipip).
        type: str
        choices: [ipip, gre, minimal]
      lifetime:
        description: Registration lifetime asked for, seconds, 1-65535 (65535 - infinite). Default 1800.
        type: int
      reregister_margin:
        description:
          - Re-register this many seconds before the registration expires; less than O(config.lifetime). Default 10.
        type: int
      solicit_interval:
        description: First agent solicitation interval, seconds (doubling, RFC 5944 section 2.4), up to 3600. Default 1.
        type: float
      max_retransmit_interval:
        description:
          - Cap on the registration retransmission backoff, seconds (RFC 5944 section 3.6.3), at least
            O(config.solicit_interval), up to 3600. Default 32.
        type: float
"""

EXAMPLES = r"""
- name: The node's security association with its home agent first
  netmobility.mobileip.security_associations:
    config:
      - peer: 10.1.0.1
        spi: 257
        key: "{{ vault_mn10_key }}"
  no_log: true

- name: Mobile node 10.1.0.10 of home agent 10.1.0.1
  netmobility.mobileip.mobile_node:
    config:
      home_address: 10.1.0.10
      home_agent: 10.1.0.1
      home_gateway: 10.1.0.254
      nai: mn10@example.net
      interfaces: [wlan0, eth0]
      reverse_tunnel: true

- name: Longer registrations
  netmobility.mobileip.mobile_node:
    config:
      lifetime: 3600
      reregister_margin: 60
"""

RETURN = r"""
before:
  description: The mobile node before the task ({} when there was none).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "lifetime": 1800}
after:
  description: The mobile node after the task (what it would be, in check mode).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "lifetime": 3600}
commands:
  description: One line per change.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["mobile_node.lifetime: 1800 -> 3600"]
gathered:
  description: The mobile node the host holds.
  returned: when O(state=gathered)
  type: dict
rendered:
  description: The mobile_node section of the agent's configuration file that O(config) makes.
  returned: when O(state=rendered)
  type: str
parsed:
  description: The mobile node parsed from O(running_config).
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
    module = AnsibleModule(argument_spec=resource_module.argument_spec("mobile_node"),
                           **resource_module.MODULE_KWARGS)
    resource_module.run(module, "mobile_node")


if __name__ == "__main__":
    main()
