# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action behind every netmobility.mobileip module: run it where the host's platform says.

The platform is the task's `platform` option when given, else the host's ansible_network_os
(ios, cisco.ios.ios, netmobility.mobileip.ios: an IOS-like router; anything else: Linux).

Linux hosts: the module runs on the host, over the host's usual connection, and edits the agent's
files there.
IOS-like routers: a config module runs on the controller (the local connection, the controller's
own Python) with `platform: ios`; it renders the model to IOS commands. `rendered` and `parsed`
need no device. The transport that reads and changes the router (netmiko, or the host's
network_cli connection) is not there yet: the other states fail with one clear line.
mobility_info and verify_registration are not implemented on IOS yet.

A platform's runner is a method `_run_<platform>` here.
"""

from __future__ import annotations

import sys
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import connection_loader
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS, PLATFORMS, platform_of

NOT_ON_IOS_YET = ("IOS platform not implemented yet for this module: it reads a running mipd (mobility_info and "
                  "verify_registration on IOS-like routers come with the IOS show parsers)")


class PlatformDispatchAction(ActionBase):
    """Runs the task's module for the target's platform."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        platform = self._task.args.get("platform")
        if platform not in PLATFORMS:
            platform = platform_of(self._templar.template(task_vars.get("ansible_network_os")))
        runner = getattr(self, f"_run_{platform}")
        result.update(runner(task_vars))
        return result

    def _run_linux(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        return self._execute_module(module_name=self._task.action, module_args=self._task.args, task_vars=task_vars)

    def _run_ios(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """A config module on the controller, with platform=ios (the router has no Python)."""
        if self._task.action.rsplit(".", 1)[-1] not in RESOURCES:
            return {"failed": True, "msg": f"{self._task.action}: {NOT_ON_IOS_YET}", "platform": IOS}
        args = {**self._task.args, "platform": IOS}
        python = task_vars.get("ansible_playbook_python") or sys.executable
        controller_vars = {**task_vars, "ansible_python_interpreter": python}
        device_connection = self._connection
        self._connection = connection_loader.get("local", self._play_context, None)
        try:
            return self._execute_module(module_name=self._task.action, module_args=args, task_vars=controller_vars)
        finally:
            self._connection = device_connection
