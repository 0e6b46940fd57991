# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small schema language the data model is written in.

A `Schema` is an ordered set of named `Field`s. From it come the Ansible argument spec of a
module's `config` option, the check of user input (partial: only what was given), the check and
completion of a whole resource (full: defaults filled, required fields and cross-field rules
checked) and, for the state and change logic, which lists are sets, which are ordered and how
list items are identified.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.values import choice, describe

Check = Callable[[Any, str], Any]
EMPTY = object()  # default of a field not given: a dict's defaults, an empty list, or None
# Option names validate-modules suspects of being secrets; non-secret ones get an explicit no_log=False.
_LOOKS_SECRET = re.compile(r"pass(?!ive)|secret|token|key", re.I)


class Field:
    """One option.

    kind: str | int | float | bool | list | dict (the Ansible type).
    check(value, path) -> canonical value: for a scalar, or for each element of a list of scalars;
      with `choices` and no check, the value must be one of the choices.
    default: used by full normalisation when the value is missing; a callable gets the sibling
      values already normalised (care-of addresses default to the interface address). Not given:
      a dict's own defaults, an empty list, or None.
    schema: the options of a dict, or of each element of a list of dicts.
    identity: for a list of dicts, the fields that identify an element (compared order-free).
    group: for `replaced`, the fields whose elements are replaced together; elements of other
      groups are kept. Without a group, `replaced` replaces the whole list.
    ordered: the list's order matters (filter rules, security associations); otherwise a list of
      scalars is a set: duplicates are refused and order differences are not changes.
    secret: no_log; never echoed, returned or shown.
    """

    __slots__ = ("kind", "check", "default", "required", "choices", "elements", "schema", "identity", "group",
                 "ordered", "secret", "min_items")

    def __init__(self, kind: str, check: Check | None = None, default: Any = EMPTY, required: bool = False,
                 choices: tuple[str, ...] | None = None, elements: str | None = None, schema: Schema | None = None,
                 identity: tuple[str, ...] = (), group: tuple[str, ...] = (), ordered: bool = False,
                 secret: bool = False, min_items: int = 0) -> None:
        self.kind = kind
        if check is None and choices:  # a string (or each string of a list) must be one of the choices
            check = _one_of(choices)
        self.check = check
        self.default = default
        self.required = required
        self.choices = choices
        self.elements = elements
        self.schema = schema
        self.identity = identity
        self.group = group
        self.ordered = ordered
        self.secret = secret
        self.min_items = min_items

    @property
    def is_set(self) -> bool:
        return self.kind == "list" and self.schema is None and not self.ordered


def _one_of(choices: tuple[Any, ...]) -> Check:
    def check(value: Any, path: str) -> Any:
        return choice(value, path, choices)

    return check


class Schema:
    """Named fields in their canonical order, and an optional cross-field check
    `post(value, path, partial)` run after the fields are checked (most rules only apply to complete
    values, partial=False); it may raise ModelError or fill derived values."""

    __slots__ = ("fields", "post")

    def __init__(self, fields: dict[str, Field], post: Callable[[dict, str, bool], None] | None = None) -> None:
        self.fields = fields
        self.post = post

    # ------------------------------------------------------------------ argument spec

    def argument_spec(self) -> dict[str, dict[str, Any]]:
        """The Ansible argument spec of these options (no defaults: `merged` must see what was given)."""
        spec: dict[str, dict[str, Any]] = {}
        for name, field in self.fields.items():
            entry: dict[str, Any] = {"type": field.kind}
            if field.kind == "list":
                entry["elements"] = field.elements or "dict"
            if field.choices:
                entry["choices"] = list(field.choices)
            if field.schema is not None:
                entry["options"] = field.schema.argument_spec()
            if field.secret:
                entry["no_log"] = True
            elif _LOOKS_SECRET.search(name):
                entry["no_log"] = False
            spec[name] = entry
        return spec

    # ------------------------------------------------------------------ normalisation

    def normalize(self, data: object, path: str, partial: bool = False) -> dict[str, Any]:
        """Check `data` and return its canonical form.

        full (partial=False): every field present, defaults filled, required fields and `post`
        checked. partial: only the fields given (not None), each checked; used for user input to
        `merged`/`deleted`, where a missing option means "leave it as it is".
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ModelError(path, f"must be a mapping, got {describe(data)}")
        for key in data:
            if key not in self.fields:
                raise ModelError(path, f"unknown option {describe(key)} (expected one of: {', '.join(self.fields)})")
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = data.get(name)
            at = join(path, name)
            if value is None:
                if partial:
                    continue
                if field.required:
                    raise ModelError(at, "is required")
                out[name] = _default(field, out, at)
                continue
            out[name] = _normalize_field(field, value, at, partial)
        if self.post is not None:
            self.post(out, path, partial)
        return out

    def defaults(self) -> dict[str, Any]:
        """The complete value of an empty mapping (every field at its default)."""
        return self.normalize({}, "")


def _default(field: Field, siblings: dict[str, Any], path: str) -> Any:
    if callable(field.default):
        return field.default(siblings)
    if field.default is not EMPTY:
        return copy.deepcopy(field.default)
    if field.kind == "dict" and field.schema is not None:
        return field.schema.normalize({}, path)
    return [] if field.kind == "list" else None


def normalize_field(field: Field, value: object, path: str, partial: bool = False) -> Any:
    """Check and canonicalise the value of one field (see Schema.normalize)."""
    if value is None:
        if field.required and not partial:
            raise ModelError(path, "is required")
        return None if partial else _default(field, {}, path)
    return _normalize_field(field, value, path, partial)


def _normalize_field(field: Field, value: object, path: str, partial: bool) -> Any:
    if field.kind == "dict":
        return field.schema.normalize(value, path, partial)  # type: ignore[union-attr]
    if field.kind != "list":
        return field.check(value, path) if field.check else value
    if not isinstance(value, list):
        raise ModelError(path, f"must be a list, got {describe(value)}")
    if len(value) < field.min_items and not partial:
        raise ModelError(path, f"needs at least {field.min_items} item{'s' if field.min_items > 1 else ''}")
    items: list[Any] = []
    seen: list[Any] = []
    for i, item in enumerate(value):
        at = join(path, i)
        if field.schema is not None:
            if partial:  # even a partial element must say which element it is
                for name in field.identity:
                    if field.schema.fields[name].required and (not isinstance(item, dict) or item.get(name) is None):
                        raise ModelError(join(at, name), "is required")
            item = field.schema.normalize(item, at, partial)
            ident = identity_of(field, item)
        else:
            item = field.check(item, at) if field.check else item
            ident = item
        if field.identity or field.schema is None:
            if ident in seen:
                if not field.identity:
                    raise ModelError(at, f"{describe(item)} is listed twice")
                given = [k for k in field.identity if item.get(k) is not None]
                what = ", ".join(f"{k}={item[k]}" for k in given)
                raise ModelError(join(at, given[-1]), f"{what} is listed twice")
            seen.append(ident)
        items.append(item)
    if field.is_set and field.choices:  # a set of choices: canonical order is the choices' order
        items.sort(key=field.choices.index)
    return items


def identity_of(field: Field, item: dict[str, Any]) -> tuple[Any, ...]:
    """The identity of a list-of-dicts element (a tuple of its identity fields)."""
    return tuple(item.get(name) for name in field.identity)


def group_of(field: Field, item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item.get(name) for name in field.group)
