# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux platform: the model as mipd's configuration file and keys file.

The main file (mode 0644) holds daemon settings and one section per role (home_agent,
foreign_agent, mobile_node); registration filters live inside the role sections they apply to
(home_agent.filters.care_of/roaming, foreign_agent.filters.home_agents). Security associations
live in the keys file (mode 0600). The `aaa` resource is the main file's `radius:` section plus
the shared secrets the keys file holds beside the SAs (`radius_secrets`, by "address" or
"address:port"); each module keeps the other's part of the keys file. Daemon settings are not
modelled: they are kept as found. The format is the agent's (agent/src/mipd/runtime/config.py,
agent/src/mipd/runtime/radius_config.py).
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
AAA = "aaa"
RADIUS = "radius"  # the aaa resource's section in the main file
RADIUS_SECRETS = "radius_secrets"  # its shared secrets in the keys file
KEYS_FILE_KEYS = (SA_LIST, RADIUS_SECRETS)
UNTIL_UNBOUND = "binding"  # mipd's cache_lifetime for the model's 0
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
        self.radius: dict[str, Any] | None = None  # the aaa resource without its secrets
        self.radius_secrets: dict[str, str] = {}  # as the keys file names them

    def copy(self) -> LinuxDocument:
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ reading

    def read_main(self, text: str, source: str, load: Loader = yaml_text.load) -> None:
        """Take the role sections, the radius section and settings from main-file `text` (ModelError names
        the field)."""
        data = _loaded(text, source, load)
        try:
            self._read_main(data)
        except ModelError as e:
            raise ModelError(e.path, f"{e.message} (in {source})") from None

    def read_either(self, text: str, source: str) -> None:
        """A main file, a keys file or both one after the other (`parsed`): each key goes where it belongs.
        Masked secrets (as `rendered` shows them) are left out."""
        data = _loaded(text, source, yaml_text.load)
        if not isinstance(data, dict):
            return self.read_main(text, source)
        try:
            self._read_main({k: v for k, v in data.items() if k not in KEYS_FILE_KEYS})
            self._read_keys({k: v for k, v in data.items() if k in KEYS_FILE_KEYS})
        except ModelError as e:
            raise ModelError(e.path, f"{e.message} (in {source})") from None
        self.radius_secrets = {k: v for k, v in self.radius_secrets.items() if v != keys.MASK}
        return None

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
        if data.get(RADIUS) is not None:
            self.radius = _radius_model(data[RADIUS])
        self.settings = {k: v for k, v in data.items() if k not in (*ROLES, RADIUS)}

    def _read_filters(self, role: str, found: Any) -> None:
        names = tuple(n for n, owner in model.FILTER_OWNER.items() if owner == role)
        path = join(role, "filters")
        if found is not None and (not isinstance(found, dict) or any(k not in names for k in found)):
            raise ModelError(path, f"must be a mapping of {', '.join(names)}")
        for name in names:
            value = None if found is None else found.get(name)
            self.filters[name] = model.RULE_LIST.normalize(value, join(path, name))

    def read_keys(self, text: str, source: str, load: Loader = yaml_text.load) -> None:
        """Take the security associations and RADIUS shared secrets from keys-file `text` (errors never
        show a key or secret)."""
        data = _loaded(text, source, load)
        try:
            self._read_keys(data)
        except ModelError as e:
            raise ModelError(e.path, f"{e.message} (in {source})") from None

    def _read_keys(self, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict) or any(k not in KEYS_FILE_KEYS for k in data):
            raise ModelError("", f"the file must hold a mapping with only {' and '.join(KEYS_FILE_KEYS)}")
        entries = data.get(SA_LIST)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and "kind" in entry:
                raise ModelError(join(join(SA_LIST, i), "kind"), "is not a mipd keys file option")
        sas = normalize_field(model.RESOURCES[SA_LIST].field, entries, SA_LIST)
        self.sas = [_without_kind(sa) for sa in sas]
        self.radius_secrets = _radius_secrets(data.get(RADIUS_SECRETS))

    # ------------------------------------------------------------------ resources

    def get(self, resource: str) -> Any:
        if resource in ROLES:
            return copy.deepcopy(self.roles[resource])
        if resource == SA_LIST:
            return copy.deepcopy(self.sas)
        if resource == AAA:
            return self._aaa()
        return copy.deepcopy(self.filters)

    def _aaa(self) -> dict[str, Any] | None:
        """The radius section with each server's secret from the keys file (RFC 2865 §3; mipd looks a
        server's secret up by "address:port", then by "address")."""
        if self.radius is None:
            return None
        value = copy.deepcopy(self.radius)
        for server in value["servers"]:
            server["secret"] = _secret_of(self.radius_secrets, server)[1]
        return value

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
        elif resource == AAA:
            self._set_aaa(value)
        else:
            defaults = model.RULE_LIST.defaults()
            for name, rules in value.items():
                owner = model.FILTER_OWNER[name]
                if rules != defaults and self.roles[owner] is None:
                    raise ModelError(join("config", name), f"this host has no {owner} section to hold the filter; "
                                     f"configure it first (netmobility.mobileip.{owner})")
            self.filters = copy.deepcopy(value)

    def _set_aaa(self, value: dict[str, Any] | None) -> None:
        """The radius section and the secrets of its servers; a secret keeps the name the keys file gives it
        (no change to the file when it is the same), the secrets of servers no longer listed go."""
        secrets: dict[str, str] = {}
        for server in (value or {}).get("servers") or []:
            if server.get("secret") is None:
                continue
            name, found = _secret_of(self.radius_secrets, server)
            if found != server["secret"]:
                default_port = server["port"] == model.RADIUS_PORT
                name = server["address"] if default_port else f"{server['address']}:{server['port']}"
            secrets[name] = server["secret"]  # type: ignore[index]
        self.radius_secrets = secrets
        self.radius = None if value is None else {
            **value, "servers": [{k: v for k, v in s.items() if k != "secret"} for s in value["servers"]]}

    def check(self) -> None:
        """Rules across resources and files (the agent's loader refuses the same)."""
        self._check_aaa()
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

    def _check_aaa(self) -> None:
        aaa = self._aaa()
        if aaa is None:
            return
        if self.roles["home_agent"] is None and self.roles["foreign_agent"] is None:
            raise ModelError("config", "only a home agent (mobile nodes' SAs, RFC 5944 §3.8.2.1) or a foreign agent "
                             "(FA-HA SAs, §3.7.2.2) fetches SAs from RADIUS: configure it first "
                             "(netmobility.mobileip.home_agent or foreign_agent), or delete aaa")
        for i, server in enumerate(aaa["servers"]):
            if server["secret"] is None:
                raise ModelError(join(join(join("config", "servers"), i), "secret"),
                                 f"is required: the keys file has no shared secret for {server['address']} "
                                 "(RFC 2865 §3)")

    @property
    def has_role(self) -> bool:
        return any(section is not None for section in self.roles.values())

    def main_equal(self, other: LinuxDocument) -> bool:
        return (self.settings, self.roles, self.filters, self.radius) == (
            other.settings, other.roles, other.filters, other.radius)

    def keys_equal(self, other: LinuxDocument) -> bool:
        return (self.sas, self.radius_secrets) == (other.sas, other.radius_secrets)

    # ------------------------------------------------------------------ writing

    def render_main(self) -> str:
        data = {k: self.settings[k] for k in SETTINGS if k in self.settings}
        if self.radius is not None:
            data[RADIUS] = self.radius_section()
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

    def radius_section(self) -> dict[str, Any]:
        """The aaa resource as mipd's `radius:` section (cache_lifetime 0 is "binding")."""
        section = without_nulls(dict(self.radius))  # type: ignore[arg-type]
        if section["cache_lifetime"] == model.CACHE_UNTIL_UNBOUND:
            section["cache_lifetime"] = UNTIL_UNBOUND
        return section

    def render_keys(self, mask: bool = False) -> str:
        sas = [{k: (keys.MASK if mask and k == "key" else v) for k, v in sa.items()} for sa in self.sas]
        data: dict[str, Any] = {SA_LIST: without_nulls(sas)}
        if self.radius_secrets:
            data[RADIUS_SECRETS] = {k: keys.MASK if mask else v for k, v in self.radius_secrets.items()}
        return KEYS_HEADER + "\n" + yaml_text.dump(data, quoted=("key", *self.radius_secrets))


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


def _radius_model(section: Any) -> dict[str, Any]:
    """mipd's `radius:` section as the aaa model value (without secrets: they are in the keys file)."""
    if not isinstance(section, dict):
        raise ModelError(RADIUS, f"must be a mapping, got {describe(section)}")
    value = dict(section)
    if value.get("cache_lifetime") == UNTIL_UNBOUND:
        value["cache_lifetime"] = model.CACHE_UNTIL_UNBOUND
    return model.AAA.normalize(value, RADIUS)


def _radius_secrets(value: Any) -> dict[str, str]:
    """The keys file's radius_secrets: {"address" or "address:port": secret}. Errors never show a secret."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(RADIUS_SECRETS, "must be a mapping of server address to shared secret")
    for name, secret in value.items():
        if not isinstance(name, str) or not isinstance(secret, str) or not secret:
            raise ModelError(RADIUS_SECRETS, "each entry must be \"address\" or \"address:port\": a quoted secret "
                             "(value hidden)")
    return dict(value)


def _secret_of(secrets: dict[str, str], server: dict[str, Any]) -> tuple[str | None, str | None]:
    """The name and secret the keys file holds for `server` (as mipd looks it up: address:port, then address)."""
    for name in (f"{server['address']}:{server['port']}", server["address"]):
        if name in secrets:
            return name, secrets[name]
    return None, None


def _loaded(text: str, source: str, load: Loader) -> Any:
    try:
        return load(text)
    except ImportError:
        raise
    except Exception as e:  # the YAML library's errors: position and problem, no file excerpt
        raise ModelError(source, f"not valid YAML ({_yaml_problem(e)})") from None


def _without_kind(sa: dict[str, Any]) -> dict[str, Any]:
    """mipd looks SAs up by peer and SPI; the peer kind (IOS `ip mobile secure <kind>`) is not stored."""
    return {k: v for k, v in sa.items() if k != "kind"}


def _yaml_problem(error: Exception) -> str:
    """Where and what, without PyYAML's excerpt of the offending line (it could hold a key)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or getattr(error, "context", None) or type(error).__name__
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)
