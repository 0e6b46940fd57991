# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test `ios_network_os`: whether a host's ansible_network_os names an IOS-like router (docs: the .yml beside it)."""

from __future__ import annotations

from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS_NETWORK_OS


def ios_network_os(name: Any) -> bool:
    """True when `name` is one of the ansible_network_os values the modules treat as an IOS-like router."""
    return str(name or "").lower() in IOS_NETWORK_OS


class TestModule:
    """The collection's Jinja tests."""

    @staticmethod
    def tests() -> dict[str, Callable[..., bool]]:
        return {"ios_network_os": ios_network_os}
