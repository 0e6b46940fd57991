# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform dispatch for netmobility.mobileip.mobility_config (plugins/plugin_utils/platform_dispatch.py)."""

from __future__ import annotations

from ansible_collections.netmobility.mobileip.plugins.plugin_utils.platform_dispatch import PlatformDispatchAction


class ActionModule(PlatformDispatchAction):
    """Runs netmobility.mobileip.mobility_config for the target's platform."""
