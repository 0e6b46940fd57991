# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netmobility.mobileip.mobility_config: several resources of one host in one module run.

Each resource option takes what the resource's own module takes as `config` and `state` (merged,
replaced, overridden, deleted), checked with that module's argument spec: the same rules and errors,
named with the resource. Every option is checked before anything is read or changed. The resources
are then applied in ORDER (those with state deleted after the others, in reverse order), each against
what the ones before it make (Platform.stage):

- the security associations first: a mobile node section needs its SA with its home agent (RFC 5944
  §3.5.2, the agent refuses the file otherwise), on a Linux host in check mode too (an IOS-like
  router's check mode reads its configuration as it is for each resource);
- the role sections, then the registration filters they hold, then the RADIUS client of the agent
  configured before it (RFC 2865 §3 shared secrets in the keys file).

On a Linux host they make one new pair of files: written, validated with `mipd check-config` and
reloaded once. On an IOS-like router each resource's commands are sent in turn over one connection
and the configuration is saved once. The roles configure a host with one module run this way
instead of one per resource (each run costs a Python start and the module's imports on the host).
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.netmobility.mobileip.plugins.module_utils import resource_module
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import Platform, PlatformError

ORDER = ("security_associations", "home_agent", "foreign_agent", "mobile_node", "registration_filters", "aaa")
STATES = ("merged", "replaced", "overridden", "deleted")


def argument_spec() -> dict[str, Any]:
    """One option per resource ({config, state}; config as the resource's module takes it, checked by run),
    `platform` and the platforms' options."""
    spec: dict[str, Any] = {
        name: {"type": "dict", "options": {"config": {"type": "raw"},
                                           "state": {"type": "str", "default": "merged", "choices": list(STATES)}}}
        for name in ORDER
    }
    spec["platform"] = resource_module.PLATFORM_OPTION
    for options in resource_module.PLATFORM_OPTIONS.values():
        spec.update(options)
    return spec


def run(module: Any) -> None:
    """Apply the resources given and exit (exit_json / fail_json)."""
    try:
        wanted = [(name, _checked_config(module, name), module.params[name]["state"])
                  for name in ORDER if module.params.get(name) is not None]
        if not wanted:
            raise ModelError("", f"nothing to do: give one of {', '.join(ORDER)}")
        platform = resource_module.platform_class(module.params["platform"])(module)
        result = _apply(module, platform, wanted)
    except (ModelError, PlatformError, OSError) as e:  # OSError: a file that cannot be written, for one
        module.fail_json(msg=str(e))
    module.exit_json(**result)


def _checked_config(module: Any, name: str) -> Any:
    """The `config` of resource option `name`, checked and completed as the resource's module does; its keys
    become no_log values (never in a result, even the echoed arguments)."""
    spec = {"config": resource_module.argument_spec(name)["config"]}
    checked = ArgumentSpecValidator(spec).validate({"config": module.params[name]["config"]})
    module.no_log_values.update(checked._no_log_values)
    if checked.error_messages:
        raise ModelError(name, checked.errors.msg)
    return checked.validated_parameters["config"]


def _apply(module: Any, platform: Platform, wanted: list[tuple[str, Any, str]]) -> dict[str, Any]:
    results: dict[str, dict[str, Any]] = {}
    changed = False
    done: dict[str, Any] = {}
    # removals last, in reverse order: a section goes before the SAs it needs, the filters and the RADIUS
    # client before the agent section they belong to
    order = [w for w in wanted if w[2] != "deleted"] + [w for w in reversed(wanted) if w[2] == "deleted"]
    try:
        for name, config, state in order:
            resource = RESOURCES[name]
            try:
                result, change = resource_module.resource_change(
                    module, resource, platform, resource_module.config_held(resource, platform, config), state)
                if change.commands:
                    changed = True
                    platform.stage(change, module.check_mode)
            except ModelError as e:
                raise ModelError(f"{name}.{e.path}" if e.path else name, e.message) from None
            except PlatformError as e:
                raise PlatformError(f"{name}: {e}") from None
            results[name] = result
        if changed and not module.check_mode:
            done = platform.write_staged()
    finally:
        done.update(platform.finish(changed, module.check_mode))
    out: dict[str, Any] = {
        **done,
        "changed": changed or bool(done.get("changed")),
        "results": results,
        "commands": [command for result in results.values() for command in result["commands"]],
    }
    diffs = [result.pop("diff") for result in results.values() if "diff" in result]
    if diffs:
        out["diff"] = diffs
    return out
