# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every config module does (home_agent, foreign_agent, mobile_node, security_associations,
registration_filters): the resource-module states, on any platform.

The platform (option `platform`, set by the action plugin from ansible_network_os) supplies the
device side (platforms/base.py); the states, check and diff mode and key masking are here, once.

parsed/rendered never touch the device. gathered reads it. merged/replaced/overridden/deleted
read it, check the whole request before anything is touched (the model's rules, then what the
platform cannot hold, then what the device holds that the model cannot express), compute the new
value and the commands, and (unless in check mode, and only when something changes) apply them.
Secrets never leave: before/after/gathered/parsed/diff carry key fingerprints, commands are shown
with keys masked, and every key read or given is registered as a no_log value.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, states, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES, Resource
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import (
    IOS,
    LINUX,
    Change,
    Platform,
    PlatformError,
    refuse,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.transport import IOS_OPTIONS
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.host import HOST_OPTIONS

# Each platform's options; its code is imported only when a module runs for it (platform_class): a module
# run on a Linux host does not load the IOS platform (11 of the 51 ms its imports took, measured).
PLATFORM_OPTIONS: dict[str, dict[str, Any]] = {LINUX: HOST_OPTIONS, IOS: IOS_OPTIONS}
PLATFORM_OPTION: dict[str, Any] = {"type": "str", "default": LINUX, "choices": list(PLATFORM_OPTIONS)}
MODULE_KWARGS: dict[str, Any] = {
    "supports_check_mode": True,
    "mutually_exclusive": [("config", "running_config")],
    "required_if": [("state", "parsed", ("running_config",)), ("state", "rendered", ("config",))],
}


def argument_spec(name: str) -> dict[str, Any]:
    """The module's options: `config` from the model, `state`, `running_config`, `platform`, and
    the options of each platform (a Linux host's files)."""
    field = RESOURCES[name].field
    config: dict[str, Any] = {"type": field.kind, "options": field.schema.argument_spec()}  # type: ignore
    if field.kind == "list":
        config["elements"] = "dict"
    spec: dict[str, Any] = {
        "config": config,
        "state": {"type": "str", "default": "merged", "choices": list(states.STATES)},
        "running_config": {"type": "str"},
        "platform": PLATFORM_OPTION,
    }
    for options in PLATFORM_OPTIONS.values():
        spec.update(options)
    return spec


def platform_class(name: str) -> type[Platform]:
    """The platform `name` (linux, ios), imported on first use."""
    if name == IOS:
        from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.platform import IosPlatform

        return IosPlatform
    from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.platform import LinuxPlatform

    return LinuxPlatform


def run(module: Any, name: str) -> None:
    """Run the module for resource `name` and exit (exit_json / fail_json)."""
    resource = RESOURCES[name]
    try:
        platform = platform_class(module.params["platform"])(module)
        result = _run(module, resource, platform)
    except (ModelError, PlatformError, OSError) as e:  # OSError: a file that cannot be written, for one
        module.fail_json(msg=str(e))
    module.exit_json(**result)


def config_held(resource: Resource, platform: Platform, config: Any) -> Any:
    """The config option without the fields this platform accepts and does not hold."""
    drop = platform.dropped(resource)
    if not drop or config is None:
        return config
    if isinstance(config, list):
        return [{k: v for k, v in item.items() if k not in drop} for item in config]
    return {k: v for k, v in config.items() if k not in drop}


def _run(module: Any, resource: Resource, platform: Platform) -> dict[str, Any]:
    state = module.params["state"]
    field = resource.field
    if state == "parsed":
        text = module.params["running_config"]
        module.no_log_values.update(platform.secrets(text))  # first: a failed parse echoes the text too
        parsed = platform.parse(resource, text)
        _hide(module, field, parsed, text)
        _warn(module, platform.unheld(resource, text))
        return {"changed": False, "parsed": _output(field, parsed)}
    config = config_held(resource, platform, module.params["config"])
    if state == "rendered":
        value = states.want(resource, "overridden", config)
        refuse(platform.unsupported(resource, value))
        return {"changed": False, "rendered": platform.render(resource, value)}
    if state == "gathered":
        found = platform.read(resource)
        have = _have(module, resource, platform, found, state)
        _hide(module, field, have)
        _warn(module, platform.unheld(resource, found))
        return {"changed": False, "gathered": _output(field, have), **platform.finish(False, True)}

    result, change = resource_change(module, resource, platform, config, state)
    try:
        if change.commands and not module.check_mode:
            result.update(platform.write(change))
    finally:
        result.update(platform.finish(result["changed"], module.check_mode))
    return result


def resource_change(module: Any, resource: Resource, platform: Platform, config: Any,
                    state: str) -> tuple[dict[str, Any], Change]:
    """What state merged, replaced, overridden or deleted does with `config`: the result (before, after,
    commands, diff) and the platform's change, not applied yet. The whole request is checked before
    anything is touched: the model's rules, what the platform cannot hold, what the device holds that the
    model cannot express."""
    field = resource.field
    wanted = states.want(resource, state, config)
    found = platform.read(resource)
    have = _have(module, resource, platform, found, state)
    _hide(module, field, have)
    unheld = platform.unheld(resource, found)
    if unheld:
        raise PlatformError(f"{resource.name}: the device holds what the model cannot express, nothing was "
                            f"changed: {'; '.join(unheld)}")
    after = states.build(resource, state, have, wanted)
    refuse(platform.unsupported(resource, after))
    change = platform.change(resource, found, have, after)
    after = change.after
    _hide(module, field, after)
    if after is not None and resource.warnings:
        _warn(module, resource.warnings(after))
    _warn(module, change.warnings)

    result: dict[str, Any] = {
        "changed": bool(change.commands),
        "commands": list(change.commands.shown),
        "before": _output(field, have),
        "after": _output(field, after),
    }
    if module._diff:
        result["diff"] = {"before": _shown(resource, have), "after": _shown(resource, after),
                          "before_header": change.target, "after_header": change.target}
    return result, change


def _have(module: Any, resource: Resource, platform: Platform, found: Any, state: str) -> Any:
    """What the device holds, as a model value. A device holding an incomplete resource (an IOS mobile
    router section half applied, a file edited by hand) cannot be merged into, but the states that set
    the whole resource (replaced, overridden, deleted) still can: they go on from nothing, with a warning."""
    try:
        return platform.parse(resource, found)
    except ModelError as e:
        if state not in ("replaced", "overridden", "deleted"):
            raise ModelError(e.path, f"{e.message}; state=replaced (or deleted) sets the whole "
                             f"{resource.name} again") from None
        module.warn(f"{resource.name}: what the device holds is incomplete ({e}); it is set again as a whole")
        return None


def _warn(module: Any, texts: list[str]) -> None:
    for text in texts:
        module.warn(text)


def _output(field: Any, value: Any) -> Any:
    """A value as modules return it: keys as fingerprints, an absent section as {}."""
    return {} if value is None else changes.masked(field, value)


def _hide(module: Any, field: Any, value: Any, text: str = "") -> None:
    """Keys read from the device or given are never shown, whatever path a value takes; also as
    `text` writes them (a hex key in upper case, with 0x: the running_config option is echoed)."""
    found = changes.secrets(field, value)
    module.no_log_values.update(found)
    for secret in found:
        module.no_log_values.update(m.group() for m in re.finditer(rf"(?:0x)?{re.escape(secret)}", text, re.I))


def _shown(resource: Resource, value: Any) -> str:
    """The resource as diff text: YAML, keys as fingerprints."""
    if value is None:
        return ""
    return yaml_text.dump({resource.name: changes.masked(resource.field, value)})
