# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action behind every netmobility.mobileip module: run it where the host's platform says.

Linux hosts (anything whose ansible_network_os is not an IOS one): the module runs on the host,
over the host's usual connection, and edits the agent's files there.
IOS-like routers (ansible_network_os ios, cisco.ios.ios, netmobility.mobileip.ios): the
controller will render the same model to IOS commands and send them over SSH (netmiko); until
that platform exists the task fails with a clear message. A platform's runner is a method
`_run_<platform>` here, so adding IOS means adding `_run_ios`.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import (
    NOT_IMPLEMENTED,
    platform_of,
)


class PlatformDispatchAction(ActionBase):
    """Runs the task's module for the target's platform."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        platform = platform_of(self._templar.template(task_vars.get("ansible_network_os")))
        runner = getattr(self, f"_run_{platform}", None)
        if runner is None:
            result.update(failed=True, msg=f"{self._task.action}: {NOT_IMPLEMENTED[platform]}", platform=platform)
            return result
        result.update(runner(task_vars))
        return result

    def _run_linux(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        return self._execute_module(module_name=self._task.action, module_args=self._task.args, task_vars=task_vars)
