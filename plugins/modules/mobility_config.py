#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mobility_config
short_description: Several Mobile IPv4 resources of one host in one task
version_added: 1.0.0
description:
  - Applies the security associations and the sections given, in one module run, what the collection's roles use to
    configure a host (one module run per host and role instead of one per resource).
  - Each resource option takes a C(config) and a C(state) as that resource's own module takes them, checked with
    that module's rules; every option is checked before anything is read or changed.
  - The resources are applied in this order, each against what the ones before it make - the security associations
    (a mobile node section needs its SA with its home agent, RFC 5944 section 3.5.2; in check mode too), the home agent,
    foreign agent or mobile node section, the registration filters, the RADIUS client. Removals (C(state=deleted))
    come after the others, in the reverse order (a section before the SAs it needs).
  - On a Linux host they make one new pair of files, written atomically, validated with C(mipd check-config) and
    reloaded once. On an IOS-like router (C(ansible_network_os) ios) the module runs on the controller, sends each
    resource's lines in turn and saves the configuration once (O(save_when)); in check mode each resource is checked
    against the router's configuration as it is (a registration filter for a home agent the same task would add is
    refused, as with the filter's own module).
author:
  - netmobility.mobileip contributors (@netmobility)
extends_documentation_fragment:
  - netmobility.mobileip.mipd
  - netmobility.mobileip.mipd.platform
  - netmobility.mobileip.mipd.ios
  - netmobility.mobileip.mipd.transport
options:
  security_associations:
    description:
      - The security associations (RFC 5944 section 3.5), as M(netmobility.mobileip.security_associations) takes them -
        a list of SAs, keys in C(key) (never returned or shown).
    type: dict
    suboptions: &resource
      config:
        description:
          - What the module of the same name as this option takes as its C(config) option, checked the same way (an
            error is prefixed with the option's name).
        type: raw
      state:
        description:
          - As the module of the same name takes it. V(gathered), V(rendered) and V(parsed) are that module's.
        type: str
        choices: [merged, replaced, overridden, deleted]
        default: merged
  home_agent:
    description:
      - The home agent, as M(netmobility.mobileip.home_agent) takes it.
    type: dict
    suboptions: *resource
  foreign_agent:
    description:
      - The foreign agent, as M(netmobility.mobileip.foreign_agent) takes it.
    type: dict
    suboptions: *resource
  mobile_node:
    description:
      - The mobile node, as M(netmobility.mobileip.mobile_node) takes it.
    type: dict
    suboptions: *resource
  registration_filters:
    description:
      - The registration filters, as M(netmobility.mobileip.registration_filters) takes them.
    type: dict
    suboptions: *resource
  aaa:
    description:
      - The RADIUS client, as M(netmobility.mobileip.aaa) takes it (shared secrets never returned or shown).
    type: dict
    suboptions: *resource
notes:
  - Keys never leave the module - they are left out of every result, failure message and the echoed arguments, also
    when the task does not set C(no_log); a value an option refuses is not repeated either.
seealso:
  - module: netmobility.mobileip.security_associations
  - module: netmobility.mobileip.mobile_node
"""

EXAMPLES = r"""
- name: A mobile node and its SA with its home agent, in one module run
  netmobility.mobileip.mobility_config:
    security_associations:
      config:
        - peer: 10.1.0.1
          spi: 257
          key: "{{ mn_ha_key }}"
      state: replaced
    mobile_node:
      config:
        home_address: 10.1.0.10
        home_agent: 10.1.0.1
        interfaces: [eth0]
      state: replaced
"""

RETURN = r"""
results:
  description:
    - Per resource given, what its own module returns - RV(netmobility.mobileip.security_associations#module:before),
      RV(netmobility.mobileip.security_associations#module:after) (keys as C(key_fingerprint)) and its RV(commands).
  returned: always
  type: dict
  sample:
    mobile_node: {"changed": true, "commands": ["mobile_node.lifetime: 1800 -> 3600"], "before": {}, "after": {}}
commands:
  description: The commands of every resource, in the order applied; a key change reads "key changed", never the key.
  returned: always
  type: list
  elements: str
  sample: ["security_associations[10.1.0.1 spi 258]: added (algorithm=hmac-md5, key set, ...)"]
written:
  description: The files written (Linux).
  returned: when something changed on a Linux host, not in check mode
  type: list
  elements: str
validated:
  description: Whether C(mipd check-config) accepted the new files (Linux).
  returned: when something changed on a Linux host, not in check mode
  type: bool
reloaded:
  description: Whether the running agent reloaded its configuration (Linux).
  returned: when something changed on a Linux host, not in check mode
  type: bool
restart_needed:
  description: What the running agent only takes after a restart (Linux).
  returned: when something changed on a Linux host, not in check mode
  type: list
  elements: str
saved:
  description: Whether the running configuration was saved (IOS-like router).
  returned: when something changed on an IOS-like router, not in check mode
  type: bool
"""

from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_batch
from ansible_collections.netmobility.mobileip.plugins.module_utils.secret_safe import SecretSafeModule


def main() -> None:
    # keys in any option (a key put in the wrong one too) are hidden from every failure message
    module = SecretSafeModule(None, argument_spec=resource_batch.argument_spec(), supports_check_mode=True)
    resource_batch.run(module)


if __name__ == "__main__":
    main()
