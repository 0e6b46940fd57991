# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IOS platform: not implemented yet (read fails with one clear line)."""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.model import Resource
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS, Platform, PlatformError


class IosPlatform(Platform):
    name = IOS

    def __init__(self, module: Any = None) -> None:
        self.module = module

    def read(self, resource: Resource) -> Any:
        raise PlatformError(f"{resource.name}: IOS platform not implemented yet")
