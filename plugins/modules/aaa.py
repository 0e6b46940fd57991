#!/usr/bin/python
# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: aaa
short_description: Manage the RADIUS servers a Mobile IPv4 agent fetches security associations from
version_added: 1.0.0
description:
  - Manages the RADIUS client of a home agent - the servers it asks for a mobile node's security association when
    it holds none for the node (RFC 5944 section 3.8.2.1; Cisco IOS C(aaa authorization ipmobile)), their shared
    secrets, timeouts, failover and how long fetched SAs are cached. The collection's docs/radius.md describes the
    lookup, the C(Cisco-AVPair) the server answers with and a FreeRADIUS example.
  - On a host running the bundled C(mipd) agent it is the C(radius) section of the main file; the shared secrets
    go to the keys file (mode 0600, C(radius_secrets)), beside the security associations, which stay as they are
    (and the security_associations module keeps the secrets). The host must be a home agent, or a foreign agent,
    which fetches the FA-HA security association of a home agent it has none with (User-Name the home agent's
    address; RFC 5944 section 3.7.2.2).
  - Shared secrets are never returned, logged or shown in a diff - C(secret_fingerprint) identifies them.
  - On an IOS-like router (C(ansible_network_os) ios) it is C(aaa new-model), C(aaa authorization ipmobile default
    group radius), one C(radius-server host A auth-port P key K) line per server, C(radius-server timeout),
    C(retransmit) and C(deadtime), and C(aaa load-sa) (or C(aaa)) on the home agent's C(ip mobile host) lines.
    docs/ios_mapping.md lists what IOS cannot hold.
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
      - The RADIUS client. With O(state=merged) servers are matched by address and updated or added (a new one
        needs O(config.servers[].secret)); with O(state=replaced) or O(state=overridden) the host holds exactly
        these servers. O(state=deleted) removes the RADIUS client and its secrets (no O(config)).
    type: dict
    suboptions:
      servers:
        description: The RADIUS servers, tried in this order (the next one when a server does not answer).
        type: list
        elements: dict
        suboptions:
          address:
            description: The server's IPv4 address (one server per address).
            type: str
          port:
            description: Its authentication port. Default 1812 (RFC 2865 section 3).
            type: int
          secret:
            description:
              - The shared secret with this server, 16-128 bytes (RFC 2865 section 3). Keep it in Ansible Vault.
              - Never returned or shown; given for every new server.
            type: str
      source_address:
        description: The address requests are sent from (also sent as NAS-IP-Address). Default chosen by the kernel.
        type: str
      timeout:
        description: Seconds to wait for an answer per try, above 0 and at most 60. Default 2.
        type: float
      retries:
        description: More tries per server before the next one, 0-10. Default 2.
        type: int
      dead_time:
        description: Seconds a server that did not answer is skipped, 0-3600. Default 30.
        type: int
      nas_identifier:
        description: The NAS-Identifier sent. Default V(mipd).
        type: str
      cache_lifetime:
        description:
          - How long a fetched SA is kept. V(0) (default) - until the node's binding ends (IOS C(load-sa)); else
            seconds (fetched again in the background when used within O(config.refresh_margin) of its expiry).
        type: int
      unbound_lifetime:
        description:
          - With O(config.cache_lifetime=0) - a fetched SA no binding uses is dropped after this long, seconds.
            Default 300.
        type: int
      refresh_margin:
        description:
          - Seconds before expiry a used SA is fetched again; shorter than O(config.cache_lifetime). Default 60.
        type: int
      negative_lifetime:
        description: Seconds a node whose lookup failed is not looked up again. Default 30.
        type: int
      pending_lookups:
        description: Lookups in flight at most, 1-4096. Default 64.
        type: int
      pending_per_node:
        description: Requests held per node while its lookup runs, 1-64. Default 4.
        type: int
      lookup_rate:
        description: New lookups per second at most (V(0) - no limit). Default 50.
        type: int
      failure_log_interval:
        description: One log line per node and this many seconds for failed lookups. Default 60.
        type: int
"""

EXAMPLES = r"""
- name: The home agent fetches unknown nodes' SAs from two RADIUS servers
  netmobility.mobileip.aaa:
    config:
      servers:
        - address: 192.0.2.50
          secret: "{{ vault_radius_secret }}"
        - address: 192.0.2.51
          port: 1812
          secret: "{{ vault_radius_secret_2 }}"
      source_address: 10.1.0.1
      cache_lifetime: 0
  no_log: true

- name: Shorter timeouts (the secrets stay as they are)
  netmobility.mobileip.aaa:
    config:
      timeout: 1.0
      dead_time: 10

- name: What the host holds (secrets as fingerprints)
  netmobility.mobileip.aaa:
    state: gathered
  register: aaa
"""

RETURN = r"""
before:
  description: The RADIUS client before the task; secrets as C(secret_fingerprint).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
  sample: {"servers": [{"address": "192.0.2.50", "port": 1812, "secret_fingerprint": "sha256:2d70b6474843"}]}
after:
  description: The RADIUS client after the task (what it would be, in check mode); secrets as C(secret_fingerprint).
  returned: when O(state) is merged, replaced, overridden or deleted
  type: dict
commands:
  description: One line per change (Linux) or the IOS configuration commands; secrets never appear.
  returned: when O(state) is merged, replaced, overridden or deleted
  type: list
  elements: str
  sample: ["aaa.servers[192.0.2.50].secret: changed"]
gathered:
  description: The RADIUS client the host holds; secrets as C(secret_fingerprint).
  returned: when O(state=gathered)
  type: dict
rendered:
  description: The configuration O(config) makes, with every secret masked.
  returned: when O(state=rendered)
  type: str
parsed:
  description: The RADIUS client parsed from O(running_config); secrets as C(secret_fingerprint).
  returned: when O(state=parsed)
  type: dict
written:
  description: The files written.
  returned: when something changed on a Linux host, not in check mode
  type: list
  elements: str
validated:
  description: Whether C(mipd check-config) accepted the new files.
  returned: when something changed on a Linux host, not in check mode
  type: bool
reloaded:
  description: Whether the running agent reloaded its configuration.
  returned: when something changed on a Linux host, not in check mode
  type: bool
restart_needed:
  description: What the running agent only takes after a restart (a changed RADIUS client is one).
  returned: when something changed on a Linux host, not in check mode
  type: list
  elements: str
saved:
  description: Whether the router's running configuration was saved.
  returned: when something changed on an IOS-like router, not in check mode
  type: bool
"""

from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module
from ansible_collections.netmobility.mobileip.plugins.module_utils.secret_safe import SecretSafeModule


def main() -> None:
    # a secret in the wrong option (address, nas_identifier, ...) is hidden from every failure message too
    module = SecretSafeModule("aaa", argument_spec=resource_module.argument_spec("aaa"),
                              **resource_module.MODULE_KWARGS)
    resource_module.run(module, "aaa")


if __name__ == "__main__":
    main()
