#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: security_associations
short_description: Manage Mobile IPv4 mobility security associations and their keys
version_added: 1.0.0
description:
  - Manages the mobility security associations (RFC 5944 sections 3.5 and 5) of a host running the bundled C(mipd)
    agent - its keys file, written with mode 0600.
  - An SA is identified by its peer and SPI. A peer may have several SPIs at once, which is how keys are rotated - add
    the new SPI, move the peers over, then delete the old SPI. The last SA listed for a peer is the newest one (a
    mobile node signs with it).
  - Keys are never returned, logged or shown in a diff - C(key_fingerprint) identifies them.
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
      - The security associations.
      - With O(state=merged) SAs are updated or added by peer and SPI (a new SA needs O(config[].key)); with
        O(state=replaced) the SAs of every peer named are replaced by those given and other peers are kept; with
        O(state=overridden) the host holds exactly these.
      - With O(state=deleted) each element names a peer, and optionally an SPI, whose SAs are removed; without
        O(config) every SA is removed.
    type: list
    elements: dict
    suboptions:
      peer:
        description:
          - The other end - a mobile node's home address or NAI (on a home agent or foreign agent), the home agent's
            address (on a mobile node or foreign agent), or the foreign agent's address (on a home agent).
        type: str
      spi:
        description: The Security Parameter Index, 256-4294967295 (0-255 are reserved, RFC 5944 section 1.6).
        type: int
      kind:
        description:
          - What the peer is to this host - V(host) (mobile node, on a home agent), V(visitor) (mobile node, on a
            foreign agent), V(home-agent) or V(foreign-agent). Used by the IOS platform (C(ip mobile secure KIND));
            the Linux agent selects SAs by peer and SPI and does not store it.
        type: str
        choices: [host, visitor, home-agent, foreign-agent]
      algorithm:
        description:
          - The authenticator - V(hmac-md5) (RFC 5944 default), V(md5-prefix-suffix) (keyed MD5 as Cisco and
            Solaris compute it) or V(rfc2002-md5) (RFC 2002 keyed MD5). Default V(hmac-md5).
        type: str
        choices: [hmac-md5, md5-prefix-suffix, rfc2002-md5]
      key:
        description:
          - The shared key, 16-256 bytes (RFC 5944 section 5.1 - 128-bit keys), written in O(config[].key_format).
          - Keep it in Ansible Vault. It is never returned or shown.
        type: str
      key_format:
        description:
          - How O(config[].key) is written - V(hex) digits (optionally V(0x)-prefixed) or V(ascii) text.
            Default V(hex).
        type: str
        choices: [hex, ascii]
      replay:
        description: Replay protection (RFC 5944 section 5.7) - V(timestamp), V(nonce) or V(none). Default V(timestamp).
        type: str
        choices: [timestamp, nonce, none]
      replay_window:
        description: Seconds of clock difference accepted with timestamps, 1-3600. Default 7.
        type: int
      fallback:
        description: Also try the other algorithms when this one fails (counted by the agent). Default V(false).
        type: bool
      roles:
        description:
          - The roles of this host that use the SA. On a host that is both home and foreign agent this keeps a
            mobile node's SA with its home agent from also being taken as one with the foreign agent.
          - Default every role of the host.
        type: list
        elements: str
        choices: [home_agent, foreign_agent, mobile_node]
"""

EXAMPLES = r"""
- name: SAs of a home agent with its mobile nodes
  netmobility.mobileip.security_associations:
    config:
      - peer: 10.1.0.10
        spi: 257
        key: "{{ vault_keys['10.1.0.10'] }}"
      - peer: mn11@example.net
        spi: 300
        key: "{{ vault_keys['mn11'] }}"
        replay: nonce
  no_log: true

- name: Key rotation, step 1 - a second SPI for the peer (the old one stays valid)
  netmobility.mobileip.security_associations:
    config:
      - peer: 10.1.0.10
        spi: 258
        key: "{{ vault_keys_next['10.1.0.10'] }}"
  no_log: true

- name: Key rotation, last step - remove the old SPI
  netmobility.mobileip.security_associations:
    config:
      - peer: 10.1.0.10
        spi: 257
    state: deleted

- name: Which SAs the host holds (keys as fingerprints)
  netmobility.mobileip.security_associations:
    state: gathered
  register: sas
"""

RETURN = r"""
before:
  description: The SAs before the task; keys as C(key_fingerprint).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: dict
  sample: [{"peer": "10.1.0.10", "spi": 257, "algorithm": "hmac-md5", "key_fingerprint": "sha256:2d70b6474843"}]
after:
  description: The SAs after the task (what they would be, in check mode); keys as C(key_fingerprint).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: dict
commands:
  description: One line per change; a key change reads "key changed", never the key.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["security_associations[10.1.0.10 spi 258]: added (algorithm=hmac-md5, key set, ...)"]
gathered:
  description: The SAs the host holds; keys as C(key_fingerprint).
  returned: when O(state=gathered)
  type: list
  elements: dict
rendered:
  description: The keys file O(config) makes, with every key masked.
  returned: when O(state=rendered)
  type: str
parsed:
  description: The SAs parsed from O(running_config) (a keys file); keys as C(key_fingerprint).
  returned: when O(state=parsed)
  type: list
  elements: dict
written:
  description: The files written.
  returned: when something changed, not in check mode
  type: list
  elements: str
validated:
  description:
    - Whether C(mipd check-config) accepted the new files (false when the agent is not installed or there is no
      main file yet).
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

from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module
from ansible_collections.netmobility.mobileip.plugins.module_utils.secret_safe import SecretSafeModule


def main() -> None:
    # a key in the wrong option (spi, peer, ...) is hidden from every failure message too
    module = SecretSafeModule("security_associations",
                              argument_spec=resource_module.argument_spec("security_associations"),
                              **resource_module.MODULE_KWARGS)
    resource_module.run(module, "security_associations")


if __name__ == "__main__":
    main()
