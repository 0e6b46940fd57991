#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: registration_filters
short_description: Manage Mobile IPv4 registration filters
version_added: 1.0.0
description:
  - Manages the registration filters of a host running the bundled C(mipd) agent - ordered permit/deny rules,
    first match wins, then a default.
  - O(config.care_of) - which care-of addresses may register at this home agent; O(config.roaming) - which mobile
    nodes may roam away from it (refused requests get code 129, RFC 5944 section 3.8.2.3); O(config.home_agents) -
    which home agents visitors of this foreign agent may use (code 65, section 3.7.2).
  - The home agent filters live in the home_agent section and the foreign agent filter in the foreign_agent section,
    which must exist (see M(netmobility.mobileip.home_agent) and M(netmobility.mobileip.foreign_agent)).
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
      - The rule lists. With O(state=merged), rules are matched by what they match (O(config.care_of.rules[].prefix)
        or O(config.care_of.rules[].nai)), their action updated or the rule appended, and a default given is set.
        With O(state=replaced) each list named becomes exactly what is given (the others are kept); with
        O(state=overridden) lists not named are reset.
      - With O(state=deleted) the lists named (any value) are reset to permit with no rules; without O(config), all are.
    type: dict
    suboptions:
      care_of:
        description: Which care-of addresses may register (home agent).
        type: dict
        suboptions: &rules
          default:
            description: The action when no rule matches. Default V(permit).
            type: str
            choices: [permit, deny]
          rules:
            description: Rules in order, first match wins.
            type: list
            elements: dict
            suboptions:
              action:
                description: What a match means.
                type: str
                choices: [permit, deny]
              prefix:
                description: Match addresses in this prefix (an address alone means /32).
                type: str
              nai:
                description: Match NAIs with this pattern (V(*) and V(?) wildcards, case-insensitive).
                type: str
      roaming:
        description: Which mobile nodes (by home address or NAI) may roam (home agent).
        type: dict
        suboptions: *rules
      home_agents:
        description: Which home agents visitors may use (foreign agent).
        type: dict
        suboptions: *rules
"""

EXAMPLES = r"""
- name: No registrations from the documentation prefix, no guests roaming
  netmobility.mobileip.registration_filters:
    config:
      care_of:
        rules:
          - {action: deny, prefix: 192.0.2.0/24}
      roaming:
        rules:
          - {action: deny, nai: "guest*@example.net"}

- name: Visitors may only use our home agents
  netmobility.mobileip.registration_filters:
    config:
      home_agents:
        default: deny
        rules:
          - {action: permit, prefix: 10.1.0.0/16}
    state: replaced

- name: No filters at all
  netmobility.mobileip.registration_filters:
    state: deleted
"""

RETURN = r"""
before:
  description: The three rule lists before the task.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"care_of": {"default": "permit", "rules": []}, "roaming": {"default": "permit", "rules": []},
           "home_agents": {"default": "permit", "rules": []}}
after:
  description: The three rule lists after the task (what they would be, in check mode).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
commands:
  description: One line per changed list or default.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["home_agent.filters.care_of.rules: [] -> [deny 192.0.2.0/24]"]
gathered:
  description: The rule lists the host holds.
  returned: when O(state=gathered)
  type: dict
rendered:
  description: The filters sections of the agent's configuration file that O(config) makes.
  returned: when O(state=rendered)
  type: str
parsed:
  description: The rule lists parsed from O(running_config).
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
  description: What the running agent only takes after a restart.
  returned: when something changed, not in check mode
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module


def main() -> None:
    module = AnsibleModule(argument_spec=resource_module.argument_spec("registration_filters"),
                           **resource_module.MODULE_KWARGS)
    resource_module.run(module, "registration_filters")


if __name__ == "__main__":
    main()
