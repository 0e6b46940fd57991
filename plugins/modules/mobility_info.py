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
  - Changes nothing. Fails when the agent does not run.
  - On an IOS-like router (C(ansible_network_os) ios) the task fails for now - that platform is not implemented yet.
author:
  - netmobility.mobileip contributors (@netmobility)
extends_documentation_fragment:
  - netmobility.mobileip.mipd.agent
options:
  gather:
    description:
      - What to gather. V(all) is the status, then whatever applies to the host's roles (bindings for a home agent,
        visitors and pending for a foreign agent, registration for a mobile node), the counters and the SAs.
      - Asking for something the host's roles do not have (V(bindings) on a mobile node) fails.
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
      description: Roles, version, uptime, files, data plane and counts (and a mobile node's registration).
      type: dict
      returned: when gathered
      sample: {"roles": ["home_agent"], "counts": {"bindings": 1, "security_associations": 2}}
    bindings:
      description: A home agent's mobility bindings (RFC 5944 section 3.8.1).
      type: list
      elements: dict
      returned: when gathered
      sample: [{"home_address": "10.1.0.10", "care_of_address": "10.2.0.1", "lifetime": 1800,
                "lifetime_left": 1750, "encap": "ipip", "reverse": false, "nai": null}]
    visitors:
      description: A foreign agent's visitor list (RFC 5944 section 3.7.1).
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
      description: Counters per role, of the runtime and of the data plane.
      type: dict
      returned: when gathered
    sas:
      description: The security associations loaded - peer, SPI, algorithm, replay method and key fingerprint.
      type: list
      elements: dict
      returned: when gathered
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli

GATHER = ("all", "status", "bindings", "visitors", "pending", "registration", "counters", "sas")


def main() -> None:
    spec = {"gather": {"type": "list", "elements": "str", "choices": list(GATHER), "default": ["all"]}}
    spec.update(agent_cli.AGENT_OPTIONS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    mipctl = agent_cli.mipctl_for(module)
    wanted = module.params["gather"]
    try:
        if "all" in wanted:
            info = mipctl.gather(("status",))
            roles = info["status"].get("roles", [])
            info.update(mipctl.gather((*agent_cli.role_commands(roles), "counters", "sas")))
        else:
            info = mipctl.gather(tuple(c for c in GATHER if c in wanted))
    except (agent_cli.AgentUnreachable, agent_cli.AgentRefused) as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=False, mobility_info=info)


if __name__ == "__main__":
    main()
