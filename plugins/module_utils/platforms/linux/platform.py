# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linux platform: the model as mipd's two files on the host the module runs on.

read loads both files (document.py says what they hold), parse takes a resource out of them (or
out of the text given as running_config), commands are change lines ("home_agent.max_lifetime:
1800 -> 600"), and write replaces the files atomically, validated by `mipd check-config`, then
reloads a running agent (host.py). What only this platform adds to a change: the daemon settings a
new main file names, the keys file's mode (0600) and existence, and the warning when no role is
left.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, keys, model, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import Resource
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import (
    LINUX,
    Change,
    Commands,
    Platform,
    PlatformError,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import (
    AAA,
    RADIUS,
    RADIUS_SECRETS,
    ROLES,
    SA_LIST,
    LinuxDocument,
    linux_names,
    without_nulls,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.host import (
    HOST_OPTIONS,
    KEYS_MODE,
    HostError,
    LinuxHost,
    MissingYaml,
)

CONFIG = "config"
KEY_BEARING = (SA_LIST, AAA)  # resources with key material in the keys file (mode 0600)


class LinuxPlatform(Platform):
    """Model <-> mipd files; commands are change lines."""

    name = LINUX
    options = HOST_OPTIONS

    def __init__(self, module: Any = None) -> None:
        self.module = module
        self._host: LinuxHost | None = None
        # several resources in one run: the files as read first, and as the resources staged so far make them
        self._staged: tuple[LinuxDocument, LinuxDocument] | None = None

    @property
    def host(self) -> LinuxHost:
        if self._host is None:
            self._host = LinuxHost(self.module)
        return self._host

    # ------------------------------------------------------------------ reading

    def read(self, resource: Resource) -> LinuxDocument:
        if self._staged is not None:  # after another resource of the same run (stage)
            return self._staged[1].copy()
        try:
            return self.host.read()
        except MissingYaml:
            raise PlatformError(missing_required_lib("PyYAML (python3-yaml)", reason="to read the mipd files") +
                                "; or set agent_bin_dir to the bin directory of the installed agent") from None
        except HostError as e:
            raise PlatformError(str(e)) from None

    def parse(self, resource: Resource, found: Any) -> Any:
        """`found`: the document read() returned, or a file's text (the main file, or the keys file
        for security associations; for aaa either or both, one after the other)."""
        if isinstance(found, LinuxDocument):
            return found.get(resource.name)
        doc = LinuxDocument()
        if resource.name == AAA:
            doc.read_either(found, "running_config")
        elif resource.secret_file:
            doc.read_keys(found, "running_config")
        else:
            doc.read_main(found, "running_config")
        return doc.get(resource.name)

    def secrets(self, text: str) -> list[str]:
        """Every SA key and RADIUS shared secret in a file's text, as written (a keys file given as running_config
        to parse another resource is echoed too)."""
        try:
            data = yaml_text.load(text)
        except Exception:  # not YAML (parse fails and says so), or no PyYAML on the controller's Python
            return []
        if not isinstance(data, dict):
            return []
        found = [str(sa["key"]) for sa in data.get(SA_LIST) or [] if isinstance(sa, dict) and sa.get("key")]
        radius_secrets = data.get(RADIUS_SECRETS)
        if isinstance(radius_secrets, dict):
            found += [str(secret) for secret in radius_secrets.values() if secret and secret != keys.MASK]
        return found

    # ------------------------------------------------------------------ writing text

    def render(self, resource: Resource, value: Any) -> str:
        """The part of the files `value` makes: a role section, the filters in their sections, or
        the keys file with every key masked (key material is never returned)."""
        doc = LinuxDocument()
        if resource.secret_file:
            doc.set(resource.name, value)
            return doc.render_keys(mask=True)
        if resource.name in ROLES:
            doc.roles[resource.name] = value
            return yaml_text.dump({resource.name: doc.role_section(resource.name)})
        if resource.name == AAA:
            doc.set(AAA, value)
            masked = {name: keys.MASK for name in doc.radius_secrets}
            return (yaml_text.dump({RADIUS: doc.radius_section()}) + f"\n# in the keys file (mode {KEYS_MODE:04o})\n" +
                    yaml_text.dump({RADIUS_SECRETS: masked}))
        data: dict[str, Any] = {}
        for name, owner in model.FILTER_OWNER.items():
            data.setdefault(owner, {"filters": {}})["filters"][name] = value[name]
        return yaml_text.dump(without_nulls(data))

    def unsupported(self, resource: Resource, value: Any) -> list[ModelError]:
        return linux_names(resource.name, value, CONFIG)

    def dropped(self, resource: Resource) -> tuple[str, ...]:
        """`kind` (IOS's `ip mobile secure <kind>`): mipd looks SAs up by peer and SPI."""
        return ("kind",) if resource.name == SA_LIST else ()

    def commands(self, resource: Resource, before: Any, after: Any) -> Commands:
        out = Commands()
        if resource.name == "registration_filters":
            for name, owner in model.FILTER_OWNER.items():
                field = model.REGISTRATION_FILTERS.fields[name]
                for line in changes.lines(field, before[name], after[name], f"{owner}.filters.{name}"):
                    out.add(line)
            return out
        for line in changes.lines(resource.field, before, after, resource.name):
            out.add(line)
        return out

    # ------------------------------------------------------------------ changing the host

    def change(self, resource: Resource, found: LinuxDocument, have: Any, after: Any) -> Change:
        host = self.host
        new_doc = found.copy()
        new_doc.set(resource.name, after)
        after = new_doc.get(resource.name)  # what the host will hold (without what the platform drops)
        if not resource.secret_file:
            host.point_at_keys(new_doc)
        new_doc.check()
        commands = self.commands(resource, have, after)
        for key, value in new_doc.settings.items():
            if found.settings.get(key) != value:
                commands.add(f"{key}: {changes.text(found.settings.get(key))} -> {changes.text(value)}")
        if resource.name in KEY_BEARING and host.keys_mode_wrong():
            commands.add(f"{host.keys_path}: mode {host.keys_mode:04o} -> {KEYS_MODE:04o}")
        if commands and not new_doc.sas and host.keys_missing(new_doc):
            commands.add(f"{host.keys_path}: created (no security associations yet)")
        warnings = []
        if found.has_role and not new_doc.has_role:
            warnings.append(f"{host.config_path} would have no home_agent, foreign_agent or mobile_node section: "
                            "mipd does not start without one")
        target = host.keys_path if resource.secret_file else host.config_path
        return Change(after, commands, target, warnings, plan=(found, new_doc))

    def stage(self, change: Change, check_mode: bool) -> None:
        """Resources of one run make one new pair of files: one write, one `mipd check-config` and one reload
        for all of them (write_staged), and in check mode too a resource is checked against what the ones
        before it would write (a mobile node section against the SA with its home agent added before it)."""
        before, after = change.plan
        self._staged = (self._staged[0] if self._staged is not None else before, after)

    def write_staged(self) -> dict[str, Any]:
        if self._staged is None:
            return {}
        try:
            return self.host.write(*self._staged)
        except HostError as e:
            raise PlatformError(str(e)) from None
