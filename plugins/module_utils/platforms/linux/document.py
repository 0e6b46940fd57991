# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux platform: the model as mipd's configuration file and keys file.

The main file (mode 0644) holds daemon settings and one section per role (home_agent,
foreign_agent, mobile_node); registration filters live inside the role sections they apply to
(home_agent.filters.care_of/roaming, foreign_agent.filters.home_agents). Security associations
live in the keys file (mode 0600). Daemon settings are not modelled: they are kept as found.
The format is the agent's (agent/src/mipd/runtime/config.py).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils import keys, model, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import normalize_field
from ansible_collections.netmobility.mobileip.plugins.module_utils.values import describe, ifname

ROLES = ("home_agent", "foreign_agent", "mobile_node")
SETTINGS = ("dataplane", "control_socket", "state_db", "state_sync", "keys_file", "log")  # the file's order
SA_LIST = "security_associations"
MAIN_HEADER = ("# mipd configuration (validate: mipd check-config FILE).\n"
               "# Managed by the netmobility.mobileip Ansible collection: settings edited here are kept,\n"
               "# comments are not.\n")
KEYS_HEADER = ("# mipd keys file: mobility security associations (RFC 5944 §3.5, §5.1). Mode 0600, root only.\n"
               "# Managed by the netmobility.mobileip Ansible collection.\n")
Loader = Callable[[str], Any]


class LinuxDocument:
    """What a Linux host's two files hold, as model values plus the daemon settings as found."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}  # daemon settings and any other top-level key, as found
        self.roles: dict[str, dict[str, Any] | None] = dict.fromkeys(ROLES)
        self.filters: dict[str, Any] = model.REGISTRATION_FILTERS.defaults()
        self.sas: list[dict[str, Any]] = []

    def copy(self) -> LinuxDocument:
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ reading

    def read_main(self, text: str, source: str, load: Loader = yaml_text.load) -> None:
        """Take the role sections and settings from main-file `text` (ModelError names the field)."""
        try:
            data = load(text)
        except ImportError:
            raise
        except Exception as e:  # the YAML library's errors: position and problem, no file excerpt
            raise ModelError(source, f"not valid YAML ({_yaml_problem(e)})") from None
        try:
            self._read_main(data)
        except ModelError as e:
            raise ModelError(e.path, f"{e.message} (in {source})") from None

    def _read_main(self, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ModelError("", f"the file must hold a mapping, got {describe(data)}")
        for role in ROLES:
            section = data.get(role)
            if role in data and not isinstance(section, dict):
                raise ModelError(role, "must be a mapping (remove the key if this host has no such role)")
            if section is None:
                continue
            section = dict(section)
            found = section.pop("filters", None) if role in model.FILTER_OWNER.values() else None
            self.roles[role] = model.RESOURCES[role].field.schema.normalize(section, role)  # type: ignore
            for error in linux_names(role, self.roles[role], role):
                raise error
            if role in model.FILTER_OWNER.values():
                self._read_filters(role, found)
        self.settings = {k: v for k, v in data.items() if k not in ROLES}

    def _read_filters(self, role: str, found: Any) -> None:
        names = tuple(n for n, owner in model.FILTER_OWNER.items() if owner == role)
        path = join(role, "filters")
        if found is not None and (not isinstance(found, dict) or any(k not in names for k in found)):
            raise ModelError(path, f"must be a mapping of {', '.join(names)}")
        for name in names:
            value = None if found is None else found.get(name)
            self.filters[name] = model.RULE_LIST.normalize(value, join(path, name))

    def read_keys(self, text: str, source: str, load: Loader = yaml_text.load) -> None:
        """Take the security associations from keys-file `text` (errors never show a key)."""
        try:
            data = load(text)
        except ImportError:
            raise
        except Exception as e:
            raise ModelError(source, f"not valid YAML ({_yaml_problem(e)})") from None
        try:
            if data is None:
                data = {}
            if not isinstance(data, dict) or any(k != SA_LIST for k in data):
                raise ModelError("", f"the file must hold a mapping with only {SA_LIST}")
            entries = data.get(SA_LIST)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(entry, dict) and "kind" in entry:
                    raise ModelError(join(join(SA_LIST, i), "kind"), "is not a mipd keys file option")
            sas = normalize_field(model.RESOURCES[SA_LIST].field, entries, SA_LIST)
        except ModelError as e:
            raise ModelError(e.path, f"{e.message} (in {source})") from None
        self.sas = [_without_kind(sa) for sa in sas]

    # ------------------------------------------------------------------ resources

    def get(self, resource: str) -> Any:
        if resource in ROLES:
            return copy.deepcopy(self.roles[resource])
        if resource == SA_LIST:
            return copy.deepcopy(self.sas)
        return copy.deepcopy(self.filters)

    def set(self, resource: str, value: Any) -> None:
        """Put a resource's value; ModelError when the files could not hold it."""
        if resource in ROLES:
            self.roles[resource] = value
            if value is None:  # its filters went with the section
                for name, owner in model.FILTER_OWNER.items():
                    if owner == resource:
                        self.filters[name] = model.RULE_LIST.defaults()
        elif resource == SA_LIST:
            self.sas = [_without_kind(sa) for sa in value]
        else:
            defaults = model.RULE_LIST.defaults()
            for name, rules in value.items():
                owner = model.FILTER_OWNER[name]
                if rules != defaults and self.roles[owner] is None:
                    raise ModelError(join("config", name), f"this host has no {owner} section to hold the filter; "
                                     f"configure it first (netmobility.mobileip.{owner})")
            self.filters = copy.deepcopy(value)

    def check(self) -> None:
        """Rules across resources and files (the agent's loader refuses the same)."""
        mn = self.roles["mobile_node"]
        if mn is None:
            return
        if self.roles["home_agent"] is not None or self.roles["foreign_agent"] is not None:
            raise ModelError("config", "a host is either a mobile node or a home/foreign agent, not both (mipd)")
        if not any(sa["peer"] == mn["home_agent"] and (sa.get("roles") is None or "mobile_node" in sa["roles"])
                   for sa in self.sas):
            raise ModelError("config", f"the mobile node needs a security association with its home agent "
                             f"{mn['home_agent']} (RFC 5944 §3.5.2); add it first "
                             "(netmobility.mobileip.security_associations)")

    @property
    def has_role(self) -> bool:
        return any(section is not None for section in self.roles.values())

    def main_equal(self, other: LinuxDocument) -> bool:
        return (self.settings, self.roles, self.filters) == (other.settings, other.roles, other.filters)

    # ------------------------------------------------------------------ writing

    def render_main(self) -> str:
        data = {k: self.settings[k] for k in SETTINGS if k in self.settings}
        for role in ROLES:
            if self.roles[role] is not None:
                data[role] = self.role_section(role)
        data.update((k, v) for k, v in self.settings.items() if k not in data)
        return MAIN_HEADER + "\n" + yaml_text.dump(data)

    def role_section(self, role: str) -> dict[str, Any]:
        """A role's section as the file holds it: its options, then the filters that are not defaults."""
        section = dict(self.roles[role])  # type: ignore[arg-type]
        defaults = model.RULE_LIST.defaults()
        filters = {name: self.filters[name] for name, owner in model.FILTER_OWNER.items()
                   if owner == role and self.filters[name] != defaults}
        if filters:
            section["filters"] = filters
        return without_nulls(section)

    def render_keys(self, mask: bool = False) -> str:
        sas = [{k: (keys.MASK if mask and k == "key" else v) for k, v in sa.items()} for sa in self.sas]
        return KEYS_HEADER + "\n" + yaml_text.dump({SA_LIST: without_nulls(sas)}, quoted=("key",))


def linux_names(resource: str, value: Any, path: str) -> list[ModelError]:
    """The interface names in `value` that are not Linux names (1-15 bytes, no '/', ':' or spaces)."""
    if not value or resource not in ROLES:
        return []
    found: list[tuple[str, Any]] = []
    if resource == "home_agent":
        found.append((join(path, "interface"), value.get("interface")))
    elif resource == "foreign_agent":
        found += [(join(join(join(path, "interfaces"), i), "name"), iface.get("name"))
                  for i, iface in enumerate(value.get("interfaces") or [])]
    else:
        found += [(join(join(path, "interfaces"), i), name) for i, name in enumerate(value.get("interfaces") or [])]
    errors: list[ModelError] = []
    for at, name in found:
        try:
            if name is not None:
                ifname(name, at)
        except ModelError as e:
            errors.append(e)
    return errors


def without_nulls(value: Any) -> Any:
    """`value` without null mapping values at any depth (an option not set is not written)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _without_kind(sa: dict[str, Any]) -> dict[str, Any]:
    """mipd looks SAs up by peer and SPI; the peer kind (IOS `ip mobile secure <kind>`) is not stored."""
    return {k: v for k, v in sa.items() if k != "kind"}


def _yaml_problem(error: Exception) -> str:
    """Where and what, without PyYAML's excerpt of the offending line (it could hold a key)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or type(error).__name__
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)
