# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action behind every netmobility.mobileip module: run it where the host's platform says.

The platform is the task's `platform` option when given, else the host's ansible_network_os
(ios, cisco.ios.ios, netmobility.mobileip.ios: an IOS-like router; anything else: Linux).

Linux hosts: the module runs on the host, over the host's usual connection, and edits the agent's
files there.
IOS-like routers: a config module runs on the controller (the local connection, the controller's own
Python, no become) with `platform: ios`. It reaches the router (module_utils/platforms/ios/transport.py)
through the host's ansible.netcommon.network_cli connection when the inventory names it (its socket is
passed on), else with netmiko, from the inventory's variables, which this plugin passes in the
module's `transport` option (its secrets are no_log options: hidden in every output). mobility_info
and verify_registration run the same way and read the router's `show ip mobile` output
(module_utils/mobility_state.py).

`rendered` and `parsed` of a config module, on either platform, never reach the host: they run in this
plugin's own process (plugin_utils/offline.py), with no module payload built and no Python started.

A task delegated to a host (`delegate_to`) is that host's: its platform and, for an IOS-like router,
its connection variables are the delegated host's.

A platform's runner is a method `_run_<platform>` here.
"""

from __future__ import annotations

import sys
from typing import Any

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import connection_loader
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS, PLATFORMS, platform_of
from ansible_collections.netmobility.mobileip.plugins.plugin_utils.offline import OFFLINE_STATES, run_offline

NOT_ON_IOS = "not a module for IOS-like routers"
ON_THE_CONTROLLER = (*RESOURCES, "mobility_config", "mobility_info", "verify_registration")  # with platform, transport


class PlatformDispatchAction(ActionBase):
    """Runs the task's module for the target's platform."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        delegated = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to or "")
        host_vars = {**task_vars, **delegated} if delegated else task_vars
        platform = self._task.args.get("platform")
        if platform not in PLATFORMS:
            platform = platform_of(self._templar.template(host_vars.get("ansible_network_os")))
        name = self._task.action.rsplit(".", 1)[-1]
        if name in RESOURCES and self._task.args.get("state") in OFFLINE_STATES:
            result.update(run_offline(name, self._task.action, {**self._task.args, "platform": platform}))
        elif platform == IOS:
            result.update(self._run_ios(host_vars))
        else:  # Ansible itself takes a Linux task to the delegated host
            result.update(getattr(self, f"_run_{platform}")(task_vars))
        return result

    def _run_linux(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        return self._execute_module(module_name=self._task.action, module_args=self._task.args, task_vars=task_vars)

    def _run_ios(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """A module on the controller, with platform=ios (the router has no Python)."""
        if self._task.action.rsplit(".", 1)[-1] not in ON_THE_CONTROLLER:
            return {"failed": True, "msg": f"{self._task.action}: {NOT_ON_IOS}", "platform": IOS}
        args = {**self._task.args, "platform": IOS}
        python = task_vars.get("ansible_playbook_python") or sys.executable
        controller_vars = {**task_vars, "ansible_python_interpreter": python}
        delegated = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to or "")
        if delegated is not None:  # Ansible takes a delegated task's interpreter from the delegated host's vars
            on_controller = {**delegated, "ansible_python_interpreter": python}
            controller_vars["ansible_delegated_vars"] = {**task_vars["ansible_delegated_vars"],
                                                         self._task.delegate_to: on_controller}
        device_connection = self._connection
        socket_path = getattr(device_connection, "socket_path", None)
        if socket_path:  # network_cli: the module talks to the router through this connection's socket
            controller_vars["ansible_socket"] = socket_path
            # in the task's own args, as ActionBase puts it there: the strategy closes the sockets it finds in
            # them at the end of the play (else ansible-connection lingers until its idle timeout)
            self._task.args["_ansible_socket"] = socket_path
            # only where the router is and the login, for messages (network_cli holds the secrets)
            args["transport"] = {k: v for k, v in self._netmiko_params(task_vars).items()
                                 if k in ("host", "port", "username")}
        else:
            args["transport"] = self._netmiko_params(task_vars)
        self._connection = connection_loader.get("local", self._play_context, None)
        become = self._play_context.become
        self._play_context.become = False  # become is the router's enable, which the transport does
        try:
            return self._execute_module(module_name=self._task.action, module_args=args, task_vars=controller_vars)
        finally:
            self._connection = device_connection
            self._play_context.become = become

    def _netmiko_params(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The `transport` option from the inventory's usual variables (templated: they may be vault values
        or lookups)."""

        def var(*names: str) -> Any:
            for name in names:
                if task_vars.get(name) is not None:
                    return self._templar.template(task_vars[name])
            return None

        params = {
            "host": var("ansible_host") or task_vars.get("inventory_hostname"),
            "port": var("ansible_port"),
            "username": var("ansible_user", "ansible_ssh_user"),
            "password": var("ansible_password", "ansible_ssh_pass"),
            "private_key_file": var("ansible_ssh_private_key_file", "ansible_private_key_file"),
            "enable_secret": var("ansible_become_password", "ansible_become_pass")
            if var("ansible_become") in (True, "true", "True", "yes", 1) else None,
            "connect_timeout": var("ansible_connect_timeout"),
            "command_timeout": var("ansible_command_timeout"),
        }
        return {key: value for key, value in params.items() if value is not None}
