# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IOS platform: the model as an IOS-like router's Mobile IP configuration.

Each resource has its table of line kinds and its mapping to the model (home_agent.py,
foreign_agent.py, mobile_node.py, security_associations.py, registration_filters.py); lines.py
reads running-configs into facts and computes the commands between two sets of facts.

A change is computed on the whole router: the lines of every resource are read (some lines are
shared: care-of-access on the home-agent line is a registration filter), the resource's lines are
replaced by those of the new value, the router itself is checked (interfaces, their addresses),
and the commands are the difference. `router mobile` is sent only when the router lacks it.

read and write go through an `IosConnection` (transport.py: netmiko from the inventory the action plugin
passes, or the host's network_cli connection); without one, read fails with one clear line and only
`rendered` and `parsed` work. After the lines are sent the configuration is read back: if applying the
same value again would still send a line, the router did not take what was meant and the task fails.
Then the running configuration is saved per `save_when` (after a change, by default).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import normalize_field
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import Resource
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import (
    IOS,
    Change,
    Commands,
    Platform,
    PlatformError,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import (
    aaa,
    foreign_agent,
    home_agent,
    irdp,
    lines,
    mobile_node,
    registration_filters,
    security_associations,
    transport,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    Facts,
    LineKind,
    RunningConfig,
    put,
)

CONFIG = "config"
ROUTER_MOBILE = LineKind("router_mobile", GLOBAL, r"^router mobile$", lambda v: "router mobile")
RESOURCES: dict[str, Any] = {
    "home_agent": home_agent,
    "foreign_agent": foreign_agent,
    "mobile_node": mobile_node,
    "security_associations": security_associations,
    "registration_filters": registration_filters,
    "aaa": aaa,
}
# every line kind, in the order lines are written (access lists before the lines naming them)
KINDS: dict[str, LineKind] = {
    kind.name: kind
    for kind in [*aaa.KINDS, *registration_filters.KINDS, ROUTER_MOBILE, *home_agent.KINDS,
                 *security_associations.KINDS, *foreign_agent.KINDS, *mobile_node.KINDS]
    if kind.name not in irdp.NAMES
}
KINDS.update((kind.name, kind) for kind in irdp.KINDS)  # last in an interface: after the service lines
# What the module reads: the global Mobile IP lines and access lists, the interfaces with the lines
# that matter on them, and the mobile router section (12.2 has no `| section`).
READ_GLOBALS = "show running-config | include ^router mobile|^ip mobile|^access-list|^aaa |^radius-server "
READ_INTERFACES = "show running-config | include ^interface|^ ip address|^ ip mobile|^ ip irdp"
READ_MOBILE_ROUTER = "show running-config | begin ^ip mobile router"
NO_TRANSPORT = transport.NO_TRANSPORT


class IosConnection:
    """What the IOS platform needs from a transport (netmiko, network_cli): implemented elsewhere."""

    def show(self, command: str) -> str:
        """The output of an exec command (without echo and prompt)."""
        raise NotImplementedError

    def configure(self, lines: list[str], shown: list[str]) -> None:
        """Send configuration lines (`shown`: the same, keys masked, for messages); PlatformError with the
        device's message and the lines applied before when one is refused."""
        raise NotImplementedError

    def save(self) -> None:
        """Copy the running configuration to the startup configuration."""
        raise NotImplementedError

    def close(self) -> None:
        """End the session (if the transport owns it)."""


def read_running_config(connection: IosConnection) -> str:
    """The parts of the running configuration the resources read, as one text."""
    global_lines = connection.show(READ_GLOBALS).splitlines()
    found = [line for line in global_lines if line.strip() != lines.MOBILE_ROUTER]
    text = "\n".join(found) + "\n" + connection.show(READ_INTERFACES)
    if any(line.strip() == lines.MOBILE_ROUTER for line in global_lines):
        section = []
        for line in connection.show(READ_MOBILE_ROUTER).splitlines():
            if section and line[:1].strip():
                break
            if section or line.strip() == lines.MOBILE_ROUTER:
                section.append(line)
        text += "\n" + "\n".join(section)
    return text + "\n"


class IosPlatform(Platform):
    """Model <-> IOS Mobile IP configuration; commands are IOS configuration commands."""

    name = IOS
    options = transport.IOS_OPTIONS

    def __init__(self, module: Any = None, connection: IosConnection | None = None) -> None:
        self.module = module
        self.connection = connection if connection is not None or module is None else transport.connect(module)

    # ------------------------------------------------------------------ reading

    def read(self, resource: Resource) -> RunningConfig:
        if self.connection is None:
            raise PlatformError(f"{resource.name}: {NO_TRANSPORT}")
        return RunningConfig(read_running_config(self.connection), list(KINDS.values()))

    def parse(self, resource: Resource, found: Any) -> Any:
        """The resource's value in `found`: what read() returned, or running-config text."""
        config = self._config(found)
        raw = RESOURCES[resource.name].to_model(config, config.facts)
        return _checked(resource, raw)

    def unheld(self, resource: Resource, found: Any) -> list[str]:
        config = self._config(found)
        return RESOURCES[resource.name].unheld(config, config.facts)

    def secrets(self, text: str) -> list[str]:
        """The key of every `ip mobile secure` line (and any other `key hex|ascii KEY`) and every RADIUS shared
        secret (`radius-server [host A ...] key [0|7] KEY`) in `text`."""
        return (re.findall(r"\bkey (?:hex|ascii) (\S+)", text or "") +
                re.findall(r"(?m)^\s*radius-server .*?\bkey (?:[07] )?(\S+)", text or ""))

    @staticmethod
    def _config(found: Any) -> RunningConfig:
        return found if isinstance(found, RunningConfig) else RunningConfig(found or "", list(KINDS.values()))

    # ------------------------------------------------------------------ writing text

    def render(self, resource: Resource, value: Any) -> str:
        """The configuration lines `value` makes (keys masked), as on a router without Mobile IP."""
        empty = RunningConfig("", [])
        facts = self._apply(resource, value, _fragment(resource, value), empty)
        return lines.render(facts, KINDS, shown=True)

    def unsupported(self, resource: Resource, value: Any) -> list[ModelError]:
        return RESOURCES[resource.name].unsupported(value, CONFIG)

    def commands(self, resource: Resource, before: Any, after: Any) -> Commands:
        """The commands between two values on a router holding nothing else."""
        empty = RunningConfig("", [])
        facts = self._apply(resource, before, _fragment(resource, before), empty)
        return lines.diff(facts, self._apply(resource, after, facts, empty), KINDS)

    def _apply(self, resource: Resource, value: Any, facts: Facts, config: RunningConfig) -> Facts:
        out = RESOURCES[resource.name].apply(value, facts, config)
        if _mobile_ip(out) and not lines.of_kind(out, "router_mobile"):
            put(out, ROUTER_MOBILE, {})
        return out

    # ------------------------------------------------------------------ changing the router

    def change(self, resource: Resource, found: RunningConfig, have: Any, after: Any) -> Change:
        errors = RESOURCES[resource.name].check(after, found, CONFIG)
        if errors:
            raise errors[0] if len(errors) == 1 else ModelError("", "; ".join(str(e) for e in errors))
        facts = _keep_equivalent(resource, found, self._apply(resource, after, found.facts, found))
        commands = lines.diff(found.facts, facts, KINDS)
        value = _checked(resource, RESOURCES[resource.name].to_model(found, facts))
        return Change(value, commands, "running-config", plan=(resource, commands, after))

    def stage(self, change: Change, check_mode: bool) -> None:
        """Send the lines (not in check mode) and read the configuration back: the router must hold what was
        meant (applying the same value again sends nothing). The next resource reads what they made; the
        configuration is saved once, by write_staged."""
        if check_mode:
            return
        if self.connection is None:
            raise PlatformError(NO_TRANSPORT)
        resource, commands, meant = change.plan
        self.connection.configure(commands.sent(), list(commands.shown))
        found = self.read(resource)
        again = self.change(resource, found, self.parse(resource, found), meant)
        if again.commands:
            raise PlatformError(f"{resource.name}: the router's configuration is not what was sent: applying it "
                                f"again would still send {_quoted(again.commands.shown)} (the lines were applied; "
                                "the configuration was not saved)")

    def write_staged(self) -> dict[str, Any]:
        """Save per save_when, once for everything sent."""
        return {"saved": self._save(changed=True)}

    def finish(self, changed: bool, check_mode: bool) -> dict[str, Any]:
        """save_when=always on a run without a change: save anyway (reported as a change, as cisco.ios does)."""
        result: dict[str, Any] = {}
        if not changed and not check_mode and self._save_when() == "always" and self.connection is not None:
            result = {"saved": self._save(changed=False), "changed": True}
        if self.connection is not None:
            self.connection.close()
        return result

    def _save_when(self) -> str:
        return (self.module.params.get("save_when") if self.module is not None else None) or "changed"

    def _save(self, changed: bool) -> bool:
        when = self._save_when()
        if when == "never" or (when == "changed" and not changed):
            return False
        self.connection.save()  # type: ignore[union-attr]
        return True


def _keep_equivalent(resource: Resource, config: RunningConfig, facts: Facts) -> Facts:
    """`facts` with the router's own version of a line kept where it means the same (an explicit
    default such as `ip irdp holdtime 30` under `maxadvertinterval 10`, `lifetime 36000` on the
    home-agent line): no command for a line that would change nothing."""
    mapping = RESOURCES[resource.name]
    meant = mapping.to_model(config, facts)
    if meant is None:
        return facts
    for key, values in config.facts.items():
        if facts.get(key) == values or (key not in facts and not KINDS[key[1]].explicit_default):
            continue
        trial = {**facts, key: values}
        if mapping.to_model(config, trial) == meant and mapping.unheld(config, trial) == mapping.unheld(config, facts):
            facts = trial
    return facts


def _fragment(resource: Resource, value: Any) -> Facts:
    """For rendering registration filters alone: the agent lines that name the access lists."""
    if resource.name != "registration_filters" or not value:
        return {}
    facts: Facts = {}
    if value["care_of"] != _default() or value["roaming"] != _default():
        put(facts, home_agent.HOME_AGENT, {})
    return facts


def _quoted(lines: list[str]) -> str:
    return "; ".join(f"'{line}'" for line in lines)


def _default() -> dict[str, Any]:
    return {"default": "permit", "rules": []}


def _mobile_ip(facts: Facts) -> bool:
    return any(key[1] not in ("access_list", "router_mobile", *(kind.name for kind in aaa.KINDS)) for key in facts)


def _checked(resource: Resource, raw: Any) -> Any:
    """A value read from the router, checked and completed by the model (defaults filled)."""
    if raw is None:
        return None
    try:
        return normalize_field(resource.field, raw, resource.name)
    except ModelError as e:
        raise ModelError(e.path, f"{e.message} (in the running configuration)") from None
