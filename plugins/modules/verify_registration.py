#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: verify_registration
short_description: Assert the Mobile IPv4 registration state of a host
version_added: 1.0.0
description:
  - Checks what the running C(mipd) agent reports (through C(mipctl --json)) against what is expected - bindings at
    a home agent, visitors at a foreign agent, a mobile node's registration, security associations loaded - and
    fails listing each mismatch.
  - With O(wait) it polls until everything matches or O(timeout) runs out (an agent not reachable yet counts as a
    mismatch then).
  - Never changes anything.
  - On an IOS-like router (C(ansible_network_os) ios) it reads the same structures from the router's C(show ip
    mobile) output (see M(netmobility.mobileip.mobility_info)); O(registration) is a mobile router's, from C(show ip
    mobile router) (O(registration.code) only where the router prints the last reply code).
author:
  - netmobility.mobileip contributors (@netmobility)
extends_documentation_fragment:
  - netmobility.mobileip.mipd.agent
  - netmobility.mobileip.mipd.transport
options:
  bindings:
    description:
      - Bindings the home agent must hold. Each needs the mobile node's O(bindings[].home_address); the other fields
        given must match too.
    type: list
    elements: dict
    suboptions:
      home_address:
        description: The mobile node's home address.
        type: str
      care_of_address:
        description: The care-of address it must be bound to.
        type: str
      nai:
        description: The NAI it registered with.
        type: str
      reverse:
        description: Whether reverse tunnelling must be granted.
        type: bool
      encap:
        description: The tunnel encapsulation.
        type: str
        choices: [ipip, gre, minimal]
  exact_bindings:
    description: No other mobile node may be bound (O(bindings) lists them all). Default V(false).
    type: bool
  visitors:
    description: Visitors the foreign agent must serve.
    type: list
    elements: dict
    suboptions:
      home_address:
        description: The visitor's home address.
        type: str
      care_of_address:
        description: The care-of address it uses.
        type: str
      home_agent:
        description: Its home agent.
        type: str
  registration:
    description: The mobile node's registration.
    type: dict
    suboptions:
      state:
        description:
          - V(registered) (its home agent holds a binding), V(pending) (a request is outstanding) or
            V(unregistered).
        type: str
        choices: [registered, pending, unregistered]
      code:
        description: The code of the last registration reply (0 - accepted).
        type: int
      location:
        description: Where the node is.
        type: str
        choices: [home, away, detached]
      care_of_address:
        description: The care-of address it registered.
        type: str
      home_agent:
        description: Its home agent.
        type: str
  security_associations:
    description: Security associations the agent must have loaded (after a key rotation step, for example).
    type: list
    elements: dict
    suboptions:
      peer:
        description: The peer's address or NAI.
        type: str
      spi:
        description: The SPI.
        type: int
  wait:
    description: Poll until everything matches or O(timeout) runs out.
    type: bool
    default: false
  timeout:
    description: Seconds to wait with O(wait).
    type: float
    default: 30
  interval:
    description: Seconds between two polls with O(wait).
    type: float
    default: 1
"""

EXAMPLES = r"""
- name: The mobile node is registered, with code 0
  netmobility.mobileip.verify_registration:
    registration:
      state: registered
      code: 0
    wait: true
    timeout: 20

- name: The home agent binds both nodes through the foreign agent
  netmobility.mobileip.verify_registration:
    bindings:
      - {home_address: 10.1.0.10, care_of_address: 10.2.0.1}
      - {home_address: 10.1.0.11, care_of_address: 10.2.0.1}
    wait: true
"""

RETURN = r"""
mismatches:
  description: What did not match (empty when everything did).
  returned: always
  type: list
  elements: str
  sample: ["binding for 10.1.0.10: care_of_address is 10.3.0.1, expected 10.2.0.1"]
attempts:
  description: How many times the agent was asked.
  returned: always
  type: int
elapsed:
  description: Seconds spent.
  returned: always
  type: float
mobility_info:
  description: The agent's last answers (bindings, visitors, registration, sas - what the check needed).
  returned: always
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli, mobility_state, verify
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError


def main() -> None:
    spec = verify.EXPECTED.argument_spec()
    spec.update({
        "wait": {"type": "bool", "default": False},
        "timeout": {"type": "float", "default": 30},
        "interval": {"type": "float", "default": 1},
    })
    spec.update(mobility_state.OPTIONS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        want = verify.expected(module.params)
    except ModelError as e:
        module.fail_json(msg=str(e))
    commands = verify.commands_for(want)
    if not commands:
        module.fail_json(msg="nothing to verify: give bindings, visitors, registration or security_associations")
    with mobility_state.opened_reader(module) as reader:
        result = _poll(module, reader, want, commands)
    if result["mismatches"]:
        found = result["mismatches"]
        module.fail_json(msg=f"mobility state not as expected ({len(found)} mismatch{'es' if len(found) > 1 else ''}): "
                         + "; ".join(found), **result)
    module.exit_json(**result)


def _poll(module: AnsibleModule, reader: mobility_state.Reader, want: dict, commands: tuple[str, ...]) -> dict:
    """Ask the reader until the state matches or the time is up; the result without `failed`."""
    start = time.monotonic()
    deadline = start + (module.params["timeout"] if module.params["wait"] else 0)
    attempts = 0
    while True:
        attempts += 1
        info: dict = {}
        try:
            info = reader.gather(commands)
            found = verify.mismatches(want, info)
        except agent_cli.AgentUnreachable as e:
            found = [str(e)]
        except agent_cli.AgentRefused as e:
            module.fail_json(msg=str(e), mismatches=[str(e)], attempts=attempts, mobility_info=info,
                             elapsed=round(time.monotonic() - start, 3))
        if not found or time.monotonic() + module.params["interval"] > deadline:
            break
        time.sleep(module.params["interval"])
    return {"changed": False, "mismatches": found, "attempts": attempts, "mobility_info": info,
            "elapsed": round(time.monotonic() - start, 3)}


if __name__ == "__main__":
    main()
