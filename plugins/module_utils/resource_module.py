# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every config module does (home_agent, foreign_agent, mobile_node, security_associations,
registration_filters): the resource-module states on a Linux host.

parsed/rendered never touch the host. gathered reads it. merged/replaced/overridden/deleted
read it, check the whole request before anything is touched, compute the new value and the
change lines, and (unless in check mode, and only when something changes) write the files
and reload the agent. Secrets never leave: before/after/gathered/parsed/diff carry key
fingerprints, commands say only that a key changed.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, states, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES, Resource
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import LinuxPlatform
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.host import (
    HOST_OPTIONS,
    KEYS_MODE,
    HostError,
    LinuxHost,
    MissingYaml,
)

MODULE_KWARGS: dict[str, Any] = {
    "supports_check_mode": True,
    "mutually_exclusive": [("config", "running_config")],
    "required_if": [("state", "parsed", ("running_config",)), ("state", "rendered", ("config",))],
}


def argument_spec(name: str) -> dict[str, Any]:
    """The module's options: `config` from the model, `state`, `running_config`, the host's files."""
    field = RESOURCES[name].field
    config: dict[str, Any] = {"type": field.kind, "options": field.schema.argument_spec()}  # type: ignore
    if field.kind == "list":
        config["elements"] = "dict"
    spec: dict[str, Any] = {
        "config": config,
        "state": {"type": "str", "default": "merged", "choices": list(states.STATES)},
        "running_config": {"type": "str"},
    }
    spec.update(HOST_OPTIONS)
    return spec


def run(module: Any, name: str) -> None:
    """Run the module for resource `name` and exit (exit_json / fail_json)."""
    resource = RESOURCES[name]
    platform = LinuxPlatform()
    try:
        result = _run(module, resource, platform)
    except MissingYaml:
        module.fail_json(msg=missing_required_lib("PyYAML (python3-yaml)", reason="to read the mipd files") +
                         "; or set agent_bin_dir to the bin directory of the installed agent")
    except (ModelError, HostError, OSError) as e:  # OSError: a file that cannot be written, for one
        module.fail_json(msg=str(e))
    module.exit_json(**result)


def _config(module: Any, resource: Resource, platform: LinuxPlatform) -> Any:
    """The config option without the fields this platform does not hold."""
    config = module.params["config"]
    drop = platform.unsupported(resource)
    if not drop or config is None:
        return config
    if isinstance(config, list):
        return [{k: v for k, v in item.items() if k not in drop} for item in config]
    return {k: v for k, v in config.items() if k not in drop}


def _run(module: Any, resource: Resource, platform: LinuxPlatform) -> dict[str, Any]:
    state = module.params["state"]
    field = resource.field
    if state == "parsed":
        parsed = platform.parse(resource, module.params["running_config"])
        _hide(module, field, parsed)
        return {"changed": False, "parsed": _output(field, parsed)}
    config = _config(module, resource, platform)
    if state == "rendered":
        value = states.want(resource, "overridden", config)
        return {"changed": False, "rendered": platform.render(resource, value)}

    host = LinuxHost(module)
    doc = host.read()
    have = doc.get(resource.name)
    _hide(module, field, have)
    if state == "gathered":
        return {"changed": False, "gathered": _output(field, have)}

    wanted = states.want(resource, state, config)
    after = states.build(resource, state, have, wanted)
    new_doc = doc.copy()
    new_doc.set(resource.name, after)
    after = new_doc.get(resource.name)  # what the host will hold (without what the platform drops)
    if not resource.secret_file:
        host.point_at_keys(new_doc)
    new_doc.check()
    _hide(module, field, after)
    commands = platform.commands(resource, have, after)
    if new_doc.settings != doc.settings:
        commands += [f"{k}: {changes.text(doc.settings.get(k))} -> {changes.text(v)}"
                     for k, v in new_doc.settings.items() if doc.settings.get(k) != v]
    if resource.secret_file and host.keys_mode_wrong():
        commands.append(f"{host.keys_path}: mode {host.keys_mode:04o} -> {KEYS_MODE:04o}")
    if commands and not new_doc.sas and host.keys_missing(new_doc):
        commands.append(f"{host.keys_path}: created (no security associations yet)")
    if after is not None and resource.warnings:
        for text in resource.warnings(after):
            module.warn(text)

    result: dict[str, Any] = {
        "changed": bool(commands),
        "commands": commands,
        "before": _output(field, have),
        "after": _output(field, after),
    }
    if module._diff:
        path = host.keys_path if resource.secret_file else host.config_path
        result["diff"] = {"before": _shown(resource, have), "after": _shown(resource, after),
                          "before_header": path, "after_header": path}
    if doc.has_role and not new_doc.has_role:
        module.warn(f"{host.config_path} would have no home_agent, foreign_agent or mobile_node section: "
                    "mipd does not start without one")
    if commands and not module.check_mode:
        result.update(host.write(doc, new_doc))
    return result


def _output(field: Any, value: Any) -> Any:
    """A value as modules return it: keys as fingerprints, an absent section as {}."""
    return {} if value is None else changes.masked(field, value)


def _hide(module: Any, field: Any, value: Any) -> None:
    """Keys read from the host or given are never shown, whatever path a value takes."""
    module.no_log_values.update(changes.secrets(field, value))


def _shown(resource: Resource, value: Any) -> str:
    """The resource as diff text: YAML, keys as fingerprints."""
    if value is None:
        return ""
    return yaml_text.dump({resource.name: changes.masked(resource.field, value)})
