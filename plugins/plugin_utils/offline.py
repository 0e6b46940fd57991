# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A config module's offline states (`rendered`, `parsed`) run inside the action plugin's process.

They read nothing from a device or a file, so nothing needs to reach the host: the module's own code
(module_utils/resource_module.py, the same model, checks and key masking) runs here with the same
argument checks AnsibleModule makes (ArgumentSpecValidator), without a Python process started and
a module payload built for it. site.yml validates every host this way before touching any; started as
a module that cost about 0.3 s of controller CPU per task.

What AnsibleModule does at exit is done here too: every no_log option value and every key the module
registered (`no_log_values`) is removed from the result, and warnings are returned in `warnings`.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module

OFFLINE_STATES = ("rendered", "parsed")


class _Exit(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__()
        self.result = result


class OfflineModule:
    """What resource_module.run uses of AnsibleModule, for a module run in this process."""

    def __init__(self, params: dict[str, Any], no_log_values: set[str]) -> None:
        self.params = params
        self.no_log_values = no_log_values
        self.check_mode = True  # nothing is ever written
        self._diff = False
        self._warnings: list[str] = []

    def warn(self, text: str) -> None:
        self._warnings.append(text)

    def exit_json(self, **result: Any) -> NoReturn:
        raise _Exit(self._finish(result))

    def fail_json(self, msg: str, **result: Any) -> NoReturn:
        raise _Exit(self._finish({**result, "failed": True, "msg": msg}))

    def _finish(self, result: dict[str, Any]) -> dict[str, Any]:
        if self._warnings:
            result["warnings"] = self._warnings
        return remove_values(result, self.no_log_values)


def run_offline(name: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """The result of resource module `name` (task action `action`) with `args`, state rendered or parsed."""
    checks = {k: v for k, v in resource_module.MODULE_KWARGS.items() if k != "supports_check_mode"}
    validator = ArgumentSpecValidator(resource_module.argument_spec(name), **checks)
    validated = validator.validate({k: v for k, v in args.items() if not k.startswith("_ansible_")})
    no_log = set(validated._no_log_values)
    if validated.error_messages:
        msg = validated.errors.msg
        if isinstance(validated.errors[0], UnsupportedError):
            msg = f"Unsupported parameters for ({action}) module: {msg}"
        return remove_values({"failed": True, "msg": msg}, no_log)
    module = OfflineModule(validated.validated_parameters, no_log)
    try:
        resource_module.run(module, name)
    except _Exit as done:
        return done.result
    return {"failed": True, "msg": f"{action}: the module ended without a result"}  # pragma: no cover
