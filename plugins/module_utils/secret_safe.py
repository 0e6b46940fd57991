# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module whose input holds keys never shows one in a failure, even a key put in the wrong option.

Ansible masks the values of `no_log` options (the `key` itself), but a second key pasted into
`spi`, `peer` or `algorithm` (a rotation's next key in the wrong variable, say) is just a wrong
value there: Ansible's own type and choice errors, and the model's, would print it. For a resource
with key material (SAs, RADIUS shared secrets), every value an option refuses (by the model's own check for that
option) is replaced by "(value hidden)" in the failure message; the option's name stays, so the
message still says what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import Field
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import RESOURCES

HIDDEN = "(value hidden)"


def refused_values(field: Field, entries: object) -> set[str]:
    """The text of every value in `entries` (a list of option dicts, or one) that its option's check refuses,
    and of every secret option's value, at any depth."""
    schema = field.schema
    if isinstance(entries, dict):
        entries = [entries]
    if schema is None or not isinstance(entries, list):
        return set()
    out: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for name, value in entry.items():
            option = schema.fields.get(name)
            if option is not None and option.schema is not None:
                out |= refused_values(option, value)
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is None or isinstance(item, (dict, list)):
                    continue
                if option is None or option.secret or not _accepted(option, item):
                    out.add(str(item))
    return out


def _accepted(option: Field, value: object) -> bool:
    if option.check is None:
        return True
    try:
        option.check(value, option.kind)
    except (ModelError, TypeError, ValueError):
        return False
    return True


def hide(text: str, values: set[str]) -> str:
    """`text` with each of `values` (as a whole token) replaced by HIDDEN, longest first."""
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = re.sub(r"(?<![\w.@-])" + re.escape(value) + r"(?![\w.@-])", HIDDEN, text)
    return text


def holds_secrets(field: Field) -> bool:
    """Whether `field` or an option under it is secret (key material)."""
    if field.secret:
        return True
    return field.schema is not None and any(holds_secrets(option) for option in field.schema.fields.values())


class SecretSafeModule(AnsibleModule):
    """AnsibleModule for resource `resource_name` (its `config` option), or with None for
    netmobility.mobileip.mobility_config (the `config` of each resource option whose resource holds
    keys): failure messages never carry a refused value of those configs (argument-spec errors
    included: they are raised from AnsibleModule.__init__)."""

    def __init__(self, resource_name: str | None, **kwargs: Any) -> None:
        self._resource_name = resource_name
        super().__init__(**kwargs)

    def _secret_configs(self, params: dict[str, Any]) -> list[tuple[Field, Any]]:
        if self._resource_name is not None:
            return [(RESOURCES[self._resource_name].field, params.get("config"))]
        return [(resource.field, params[name].get("config")) for name, resource in RESOURCES.items()
                if isinstance(params.get(name), dict) and holds_secrets(resource.field)]

    def fail_json(self, msg: str, **kwargs: Any) -> None:  # type: ignore[override]
        params = getattr(self, "params", None) or {}
        refused: set[str] = set()
        for field, config in self._secret_configs(params):
            refused |= refused_values(field, config)
        if refused:  # the arguments echoed back (shown at -vvv) lose them too
            kwargs.setdefault("invocation", {"module_args": _without(params, refused)})
        super().fail_json(msg=hide(str(msg), refused), **kwargs)


def _without(value: Any, refused: set[str]) -> Any:
    """A copy of `value` with each scalar whose text is in `refused` replaced by HIDDEN."""
    if isinstance(value, dict):
        return {name: _without(item, refused) for name, item in value.items()}
    if isinstance(value, list):
        return [_without(item, refused) for item in value]
    return HIDDEN if value is not None and str(value) in refused else value
