#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mobility_info
short_description: Gather the live Mobile IPv4 state of a host
version_added: 1.0.0
description:
  - Asks the running C(mipd) agent (through C(mipctl --json)) for its mobility state, as structured data - the
    bindings of a home agent, the visitors and pending requests of a foreign agent, the registration of a mobile
    node, its counters and the security associations it has loaded (keys as fingerprints only).
  - On an IOS-like router (C(ansible_network_os) ios) the module runs on the controller, reaches the router like
    the config modules (netmiko, or the host's C(ansible.netcommon.network_cli) connection) and parses its
    C(show ip mobile) output into the same structures (see O(platform) and the notes).
  - Changes nothing. Fails when the agent does not run or the router cannot be reached.
author:
  - netmobility.mobileip contributors (@netmobility)
extends_documentation_fragment:
  - netmobility.mobileip.mipd.agent
  - netmobility.mobileip.mipd.transport
options:
  gather:
    description:
      - What to gather. V(all) is the status, then whatever applies to the host's roles (bindings for a home agent,
        visitors and pending for a foreign agent, registration for a mobile node), the counters and the SAs.
      - Asking for something the host's roles do not have (V(bindings) on a mobile node) fails on a Linux host; an
        IOS-like router answers with an empty list. V(registration) on an IOS-like router is a mobile router's
        (C(show ip mobile router)) and fails on a router that is not one.
    type: list
    elements: str
    choices: [all, status, bindings, visitors, pending, registration, counters, sas]
    default: [all]
"""

EXAMPLES = r"""
- name: Everything the agent knows
  netmobility.mobileip.mobility_info:
  register: mip

- name: Bindings of a home agent
  netmobility.mobileip.mobility_info:
    gather: [bindings]
    agent_bin_dir: /opt/mipd/bin
  register: ha

- name: Show them
  ansible.builtin.debug:
    msg: "{{ item.home_address }} via {{ item.care_of_address }}, {{ item.lifetime_left }} s left"
  loop: "{{ ha.mobility_info.bindings }}"
"""

RETURN = r"""
mobility_info:
  description: The agent's answers, one key per item gathered.
  returned: always
  type: dict
  contains:
    status:
      description:
        - Roles, version, uptime, files, data plane and counts (and a mobile node's registration).
        - On an IOS-like router the roles are those C(show ip mobile globals) has a section for (home_agent,
          foreign_agent) and the counts those of the lists; the other fields are null.
      type: dict
      returned: when gathered
      sample: {"roles": ["home_agent"], "counts": {"bindings": 1, "security_associations": 2}}
    bindings:
      description:
        - A home agent's mobility bindings (RFC 5944 section 3.8.1).
        - On an IOS-like router C(expires) is null, C(encap), C(reverse) and C(simultaneous) come from the
          registration flags.
      type: list
      elements: dict
      returned: when gathered
      sample: [{"home_address": "10.1.0.10", "care_of_address": "10.2.0.1", "lifetime": 1800,
                "lifetime_left": 1750, "encap": "ipip", "reverse": false, "nai": null}]
    visitors:
      description:
        - A foreign agent's visitor list (RFC 5944 section 3.7.1).
        - On an IOS-like router C(interface) is the router's interface name, C(delivery) is null.
      type: list
      elements: dict
      returned: when gathered
    pending:
      description: A foreign agent's pending registration requests.
      type: list
      elements: dict
      returned: when gathered
    registration:
      description: A mobile node's registration - location, registered, pending, care-of address, agent, lifetime
        left and the last reply code.
      type: dict
      returned: when gathered
      sample: {"location": "away", "registered": true, "care_of_address": "10.2.0.1", "last_reply_code": 0}
    counters:
      description:
        - Counters per role, of the runtime and of the data plane.
        - On an IOS-like router the counts of C(show ip mobile traffic), under mipd's names where they mean the
          same (C(rx.request), C(denied.CODE)...) and C(ios.LABEL) otherwise; the data plane's are the mobile
          tunnels' packet counts.
      type: dict
      returned: when gathered
    sas:
      description:
        - The security associations loaded - peer, SPI, algorithm, replay method and key fingerprint.
        - On an IOS-like router those of C(show ip mobile secure), the keys it prints turned into the same
          fingerprints; C(roles) is null.
      type: list
      elements: dict
      returned: when gathered
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli, mobility_state

GATHER = ("all", "status", "bindings", "visitors", "pending", "registration", "counters", "sas")


def main() -> None:
    spec = {"gather": {"type": "list", "elements": "str", "choices": list(GATHER), "default": ["all"]}}
    spec.update(mobility_state.OPTIONS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    wanted = module.params["gather"]
    with mobility_state.opened_reader(module) as reader:
        try:
            if "all" in wanted:
                info = reader.gather(("status",))
                roles = info["status"].get("roles", [])
                info.update(reader.gather((*agent_cli.role_commands(roles), "counters", "sas")))
            else:
                info = reader.gather(tuple(c for c in GATHER if c in wanted))
        except (agent_cli.AgentUnreachable, agent_cli.AgentRefused) as e:
            module.fail_json(msg=str(e))
    module.exit_json(changed=False, mobility_info=info)


if __name__ == "__main__":
    main()
