#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: home_agent
short_description: Manage a Mobile IPv4 home agent
version_added: 1.0.0
description:
  - Configures the home agent (RFC 5944 section 3.8) of a host running the bundled C(mipd) agent - the home_agent
    section of its configuration file.
  - The mobile nodes' security associations are managed with M(netmobility.mobileip.security_associations), the
    care-of and roaming filters with M(netmobility.mobileip.registration_filters).
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
      - The home agent. With O(state=deleted) it is not used - the whole home_agent section (and its filters) is
        removed.
    type: dict
    suboptions:
      address:
        description:
          - The home agent address mobile nodes register with. Required when the home agent is created.
        type: str
      interface:
        description:
          - The home link (proxy and gratuitous ARP, RFC 5944 section 4.6). Required when the home agent is created.
        type: str
      home_networks:
        description:
          - Prefixes on the home link, for example V(10.1.0.0/24).
          - At least one home network or virtual network is needed.
        type: list
        elements: str
      virtual_networks:
        description:
          - Home prefixes with no physical link (no ARP on them).
        type: list
        elements: str
      mobile_hosts:
        description:
          - The mobile nodes this home agent serves - addresses, ranges V(10.1.0.10-10.1.0.20), prefixes, NAIs
            (V(mn1@example.net)) and NAI patterns (V(*@example.net)). Others are refused with code 129.
        type: list
        elements: str
      nai_hosts:
        description:
          - Mobile nodes known by their NAI (RFC 2794) and the home addresses each may register. A security
            association whose peer is an NAI authenticates a registration only for these addresses (an address
            SA only for its own address); any other home address is refused with code 131. An NAI listed here
            is served for these addresses even when O(config.mobile_hosts) does not list it.
          - Each address must be in a home or virtual network and cannot be the home agent's address or a
            network or broadcast address; an address belongs to one NAI at most.
        type: list
        elements: dict
        suboptions:
          nai:
            description: The NAI, for example V(mn1@example.net) (one NAI, not a pattern). Required.
            type: str
          home_addresses:
            description: The home addresses it may register (at least one). Required.
            type: list
            elements: str
      max_lifetime:
        description:
          - Longest registration lifetime granted, in seconds, 1-65535 (65535 - infinite). Default 1800.
        type: int
      simultaneous_bindings:
        description:
          - Care-of addresses per mobile node when it asks for simultaneous bindings, 0-255; 0 refuses them. Default 0.
        type: int
      binding_limit:
        description:
          - Total bindings this home agent holds; 0 is unlimited, beyond it requests get code 130. Default 0.
        type: int
      reverse_tunnel:
        description:
          - Allow reverse tunnelling (RFC 3024 T bit); otherwise such requests get code 137. Default V(true).
        type: bool
      reverse_tunnel_mandatory:
        description:
          - Refuse requests without reverse tunnelling (code 138). Needs O(config.reverse_tunnel). Default V(false).
        type: bool
      encapsulations:
        description:
          - Tunnel encapsulations accepted (others get code 139). Default all three.
        type: list
        elements: str
        choices: [ipip, gre, minimal]
      advertisement:
        description: Agent advertisements on the home link (RFC 5944 section 2.3), so mobile nodes know they are home.
        type: dict
        suboptions:
          enabled:
            description: Send them. Default V(true).
            type: bool
          interval:
            description:
              - Mean seconds between advertisements (randomised); at most a third of
                O(config.advertisement.lifetime). Default 5.
            type: float
          lifetime:
            description: The advertisement's ICMP lifetime, seconds, 1-65535. Default 15.
            type: int
          code:
            description: V(16) - mobility agent only; V(0) - also routes common traffic. Default 16.
            type: int
            choices: [0, 16]
"""

EXAMPLES = r"""
- name: Home agent for 10.1.0.0/24
  netmobility.mobileip.home_agent:
    config:
      address: 10.1.0.1
      interface: eth1
      home_networks: [10.1.0.0/24]
      mobile_hosts: [10.1.0.10-10.1.0.99, "*@example.net"]
      nai_hosts:
        - nai: mn11@example.net
          home_addresses: [10.1.0.11]
      max_lifetime: 1800
    state: merged

- name: Shorter lifetimes, everything else as it is
  netmobility.mobileip.home_agent:
    config:
      max_lifetime: 600

- name: Exactly this home agent (options not given revert to their defaults)
  netmobility.mobileip.home_agent:
    config:
      address: 10.1.0.1
      interface: eth1
      home_networks: [10.1.0.0/24]
      mobile_hosts: [10.1.0.0/24]
      reverse_tunnel_mandatory: true
    state: replaced

- name: What the host has
  netmobility.mobileip.home_agent:
    state: gathered
  register: ha

# On an IOS-like router (ansible_network_os cisco.ios.ios): the same task; the inventory says how to reach it
# (ansible_host, ansible_user, ansible_password, ansible_become_password; or ansible_connection
# ansible.netcommon.network_cli). Sends only the lines that change, reads them back, saves after a change.
- name: Home agent on an IOS-like router, not saved to the startup configuration
  netmobility.mobileip.home_agent:
    config:
      address: 10.2.0.1
      interface: GigabitEthernet0/1
      home_networks: [10.2.0.0/24]
      mobile_hosts: [10.2.0.10-10.2.0.50]
    save_when: never

- name: The configuration text, offline
  netmobility.mobileip.home_agent:
    config:
      address: 10.1.0.1
      interface: eth1
      home_networks: [10.1.0.0/24]
    state: rendered
  delegate_to: localhost

- name: No longer a home agent
  netmobility.mobileip.home_agent:
    state: deleted
"""

RETURN = r"""
before:
  description: The home agent before the task ({} when there was none).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"address": "10.1.0.1", "interface": "eth1", "max_lifetime": 1800}
after:
  description: The home agent after the task (what it would be, in check mode).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"address": "10.1.0.1", "interface": "eth1", "max_lifetime": 600}
commands:
  description: One line per change.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["home_agent.max_lifetime: 1800 -> 600", "home_agent.home_networks: + 10.1.2.0/24"]
gathered:
  description: The home agent the host holds.
  returned: when O(state=gathered)
  type: dict
rendered:
  description: The home_agent section of the agent's configuration file that O(config) makes.
  returned: when O(state=rendered)
  type: str
  sample: "home_agent:\n  address: 10.1.0.1\n  ..."
parsed:
  description: The home agent parsed from O(running_config).
  returned: when O(state=parsed)
  type: dict
written:
  description: The files written.
  returned: when something changed, not in check mode
  type: list
  elements: str
  sample: ["/etc/mipd/mipd.yaml"]
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
    module = AnsibleModule(argument_spec=resource_module.argument_spec("home_agent"), **resource_module.MODULE_KWARGS)
    resource_module.run(module, "home_agent")


if __name__ == "__main__":
    main()
