# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the netmobility.mobileip modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Options and attributes shared by the modules (see each fragment's use)."""

    # The files a config module manages on a Linux host, and how it validates and applies them.
    DOCUMENTATION = r"""
options:
  config_path:
    description:
      - The agent's main configuration file on a Linux host (mode 0644).
      - Its C(keys_file) setting names the keys file; relative paths there are relative to this file's directory.
    type: path
    default: /etc/mipd/mipd.yaml
  keys_path:
    description:
      - The keys file holding the security associations (written with mode 0600).
      - Default is what O(config_path) names in C(keys_file), else C(keys.yaml) next to O(config_path).
      - When given, it must be the file O(config_path) names; a new main file is made to name it.
    type: path
  agent_bin_dir:
    description:
      - Directory holding the agent's C(mipd) and C(mipctl) programs (the bin directory of the virtualenv the agent
        is installed in).
      - Default is to look them up on the PATH. Without them the files are still written, but neither validated
        with C(mipd check-config) nor reloaded.
    type: path
  validate:
    description:
      - Validate the new files with the agent's own C(mipd check-config) before they replace the old ones, when the
        agent is installed. A refused configuration fails the task and changes nothing.
    type: bool
    default: true
  reload:
    description:
      - When the files changed and the agent runs (its control socket exists), tell it to reload with
        C(mipctl reload). A reload keeps the agent's bindings, visitors and registrations.
      - A change of roles (adding or removing a home agent, foreign agent or mobile node section) needs a restart
        instead; the module then warns and returns RV(restart_needed).
    type: bool
    default: true
notes:
  - The files are written atomically (a temporary file beside each, created 0600, fsync-ed, validated with
    C(mipd check-config), then renamed and the directory fsync-ed). When a rename or the reload fails once a file was
    replaced, the old files are put back and the task fails, leaving the host as it was. Daemon settings in the
    main file (C(dataplane), C(control_socket), C(log)...) are kept as they are; comments in it are not.
  - Modules never return key material. Keys appear as C(key_fingerprint), the same fingerprint C(mipctl sas) prints.
"""

    # The resource-module states (the config modules for one resource each).
    RESOURCE_STATES = r"""
options:
  state:
    description:
      - V(merged) sets the options given and leaves the others as they are; list values are added, list elements
        are matched by their identity and updated or added.
      - V(replaced) replaces what is given; options not given revert to their defaults. Lists of elements with a
        group (interfaces by name, security associations by peer) replace only the groups named.
      - V(overridden) makes the resource exactly O(config).
      - V(deleted) removes the resource (see O(config) for what can be named).
      - V(gathered) returns what the host holds, as O(config) would be written (keys as fingerprints).
      - V(rendered) returns the configuration text O(config) makes, without touching any host.
      - V(parsed) returns the model parsed from O(running_config), without touching any host.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered, parsed]
    default: merged
  running_config:
    description:
      - The configuration text to parse with O(state=parsed) (the agent's main file, or its keys file for
        security associations; on an IOS-like router, its running configuration).
    type: str
"""

    # The platform option and the attributes of the config modules (the resource modules, mobility_config).
    PLATFORM = r"""
options:
  platform:
    description:
      - What the target is. V(linux) - a host running the bundled C(mipd) agent, whose files the module edits.
        V(ios) - an IOS-like router; the module runs on the controller and renders, parses or changes its
        C(ip mobile) configuration.
      - Set by the action plugin from C(ansible_network_os) (V(ios), V(cisco.ios.ios), V(netmobility.mobileip.ios)
        mean V(ios)); tasks do not need it.
      - What an IOS-like router cannot hold (or the model cannot express from its configuration) is refused
        naming the option - see the IOS mapping in the collection's docs/ios_mapping.md.
    type: str
    choices: [linux, ios]
    default: linux
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode; keys are
      shown as fingerprints.
    support: full
  platform:
    description: Target platforms.
    support: full
    platforms: posix
"""

    # What a config module does on an IOS-like router.
    IOS = r"""
options:
  save_when:
    description:
      - On an IOS-like router, when the running configuration is saved to the startup configuration
        (C(write memory)). V(changed) - after a change (and never in check mode). V(always) - on every run that is
        not in check mode (the task then reports a change). V(never) - the running configuration is left unsaved.
      - Ignored on Linux hosts (their files are the configuration).
    type: str
    choices: [never, changed, always]
    default: changed
notes:
  - On an IOS-like router the module runs on the controller and reaches the router with netmiko (the Python
    package C(netmiko) on the controller), or through the host's C(ansible.netcommon.network_cli) connection. It
    reads the configuration with C(show running-config | include ...) (IOS 12.2 has no C(| section)), sends the
    fewest configuration lines (C(no) forms first, a new SPI before an old one goes), fails on a line the router
    refuses with its message and the lines applied before it, reads the configuration back and fails if it is not
    what was meant, then saves it per O(save_when). In check mode it reads and sends no configuration line.
  - Passwords and keys never appear in the task's output; the commands returned show keys masked.
"""

    # The transport option: how a module on the controller reaches an IOS-like router (config modules,
    # mobility_info, verify_registration).
    TRANSPORT = r"""
options:
  transport:
    description:
      - How the module reaches an IOS-like router over netmiko. Filled by the action plugin from the inventory
        (C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_password) or
        C(ansible_ssh_private_key_file), the enable secret from C(ansible_become_password),
        C(ansible_connect_timeout), C(ansible_command_timeout)); tasks do not set it.
      - Hosts with C(ansible_connection=ansible.netcommon.network_cli) use that connection instead (then only
        O(transport.host), O(transport.port) and O(transport.username) are filled, to name the router in messages).
    type: dict
    suboptions:
      host:
        description: The router's address.
        type: str
      port:
        description: Its SSH port.
        type: int
        default: 22
      username:
        description: The login.
        type: str
      password:
        description: The login's password.
        type: str
      private_key_file:
        description: An SSH private key instead of the password.
        type: path
      enable_secret:
        description: The enable secret (needed when the login is not at privilege level 15).
        type: str
      connect_timeout:
        description: Seconds to wait for the connection and the login.
        type: int
        default: 30
      command_timeout:
        description: Seconds to wait for each command's output.
        type: int
        default: 30
"""

    # Modules that read a host's live state: mipctl on a Linux host, show commands on an IOS-like router.
    AGENT = r"""
options:
  config_path:
    description:
      - The agent's main configuration file; C(mipctl) reads the control socket's path from it.
    type: path
    default: /etc/mipd/mipd.yaml
  control_socket:
    description:
      - The agent's control socket. Default is the one O(config_path) names.
    type: path
  agent_bin_dir:
    description:
      - Directory holding the agent's C(mipctl) (the bin directory of the virtualenv the agent is installed in).
        Default is to look it up on the PATH.
    type: path
  platform:
    description:
      - What the target is. V(linux) - a host running the bundled C(mipd) agent, asked with C(mipctl --json).
        V(ios) - an IOS-like router; the module runs on the controller and parses its C(show ip mobile) output
        (C(binding), C(visitor), C(visitor pending), C(globals), C(host), C(traffic), C(tunnel), C(secure)) into the
        same structures.
      - Set by the action plugin from C(ansible_network_os) (V(ios), V(cisco.ios.ios), V(netmobility.mobileip.ios)
        mean V(ios)); tasks do not need it. O(config_path), O(control_socket) and O(agent_bin_dir) do not apply
        on V(ios).
    type: str
    choices: [linux, ios]
    default: linux
notes:
  - On an IOS-like router some values have no IOS source and are null - C(expires) of a binding, C(delivery) of a
    visitor, C(roles) of an SA, mipd's own fields of the status (C(version), C(pid), C(uptime), files); counters
    IOS counts without a mipd equivalent are named C(ios.LABEL). A mobile router's C(registration) is not read
    (asking for it fails). The module's RETURN section lists the fields.
  - The parsers are TextFSM templates shipped in the collection (the controller needs C(textfsm), which comes
    with C(netmiko)). Keys that C(show ip mobile secure) prints are turned into fingerprints as they are read.
attributes:
  check_mode:
    description: Can run in check mode; the module never changes anything.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Target platforms.
    support: full
    platforms: posix
"""
