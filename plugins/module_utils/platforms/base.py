# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface every platform implements, and which platform a host is.

A platform turns model values into its own text and back, and says what changes between two
values in its own terms:

    parse(resource, text)             -> value     (`parsed` state; also what a host holds)
    render(resource, value)           -> text      (`rendered` state)
    commands(resource, before, after) -> [str]     (the `commands` a change returns)
    unsupported(resource)             -> field names the platform cannot hold

linux (platforms/linux.py): the mipd configuration and keys files; commands are change lines
("home_agent.max_lifetime: 1800 -> 600"); the module edits the files on the host.
ios (not implemented yet): `ip mobile ...` configuration lines and `show` output parsers;
commands are IOS configuration commands; the action plugin sends them over SSH (netmiko).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.model import Resource

LINUX = "linux"
IOS = "ios"
# ansible_network_os values meaning an IOS-like router; every other host is a Linux host.
IOS_NETWORK_OS = ("ios", "cisco.ios.ios", "netmobility.mobileip.ios")
NOT_IMPLEMENTED = {
    IOS: "IOS platform not implemented yet: netmobility.mobileip manages Linux hosts running mipd for now "
         "(the IOS renderer, parser and netmiko transport come in a later release)",
}


class Platform:
    """Base class: see the module docstring."""

    name = ""

    def parse(self, resource: Resource, text: str) -> Any:
        raise NotImplementedError

    def render(self, resource: Resource, value: Any) -> str:
        raise NotImplementedError

    def commands(self, resource: Resource, before: Any, after: Any) -> list[str]:
        raise NotImplementedError

    def unsupported(self, resource: Resource) -> tuple[str, ...]:
        return ()


def platform_of(network_os: object) -> str:
    """The platform of a host from its ansible_network_os (unset: Linux)."""
    return IOS if isinstance(network_os, str) and network_os.lower() in IOS_NETWORK_OS else LINUX
