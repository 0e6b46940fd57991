# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource-module states: what a resource should become, from what it is and what was asked.

merged      options given are set; lists of values gain the values given; list elements
            (interfaces, SAs, filter rules) are matched by identity and updated or added.
replaced    options given replace what is there and the others revert to their defaults;
            for lists with groups only the groups named are replaced (a foreign agent's
            interfaces by name, security associations by peer); for registration filters
            only the rule lists named are replaced.
overridden  the resource becomes exactly what was given.
deleted     one-per-host resources are removed; security associations named by peer (and
            SPI) are removed, all without config; rule lists named (all without config) are
            reset to permit with no rules.

Everything is checked before anything is built (`want`), and the result is checked again as a
whole (`build`), so cross-field rules also hold for merged results. Paths in errors name the
module option ("config.interfaces[1].address").
"""

from __future__ import annotations

import copy
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils import values as v
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import (
    Field,
    group_of,
    identity_of,
    normalize_field,
)

ACTION_STATES = ("merged", "replaced", "overridden", "deleted")
OFFLINE_STATES = ("rendered", "parsed")
STATES = (*ACTION_STATES, "gathered", *OFFLINE_STATES)
PATH = "config"


def want(resource: model.Resource, state: str, config: Any) -> Any:
    """The checked form of the `config` option for `state` (ModelError names the option)."""
    field = resource.field
    if state == "deleted":
        return _deleted_want(resource, config)
    given = normalize_field(field, config, PATH, partial=True)
    if not given:
        raise ModelError(PATH, f"is required with state={state}")
    if state == "merged":
        return given
    if state == "replaced" and resource.keep_unnamed:
        return {name: normalize_field(field.schema.fields[name], config[name], join(PATH, name))  # type: ignore
                for name in given}
    return normalize_field(field, config, PATH)


def build(resource: model.Resource, state: str, have: Any, wanted: Any) -> Any:
    """What the resource becomes under `state` (complete and checked), order-stable against `have`."""
    field = resource.field
    if state == "merged":
        result = _merge(field, have if have is not None else _empty(field), wanted, PATH)
    elif state == "replaced":
        result = _replace(field, have, wanted, resource.keep_unnamed)
    elif state == "overridden":
        result = wanted
    elif state == "deleted":
        result = _delete(resource, have, wanted)
    else:
        raise ValueError(f"state {state} changes nothing")
    if result is None:
        return None
    result = normalize_field(field, result, PATH)
    return stabilize(field, have, result)


# ---------------------------------------------------------------------- merged


def _empty(field: Field) -> Any:
    return [] if field.kind == "list" else {}


def _merge(field: Field, have: Any, wanted: Any, path: str) -> Any:
    if field.kind == "dict":
        result = copy.deepcopy(have) if have else {}
        for name, value in wanted.items():
            sub = field.schema.fields[name]  # type: ignore[union-attr]
            result[name] = _merge(sub, result.get(name), value, join(path, name))
        return result
    if field.kind != "list":
        return wanted
    have = have or []
    if field.schema is None:  # a set of values gains those given
        return have + [x for x in wanted if x not in have]
    result = copy.deepcopy(have)
    for i, item in enumerate(wanted):
        ident = identity_of(field, item)
        for j, old in enumerate(result):
            if identity_of(field, old) == ident:
                result[j] = _merge(Field("dict", schema=field.schema), old, item, join(path, i))
                break
        else:  # a new element must be complete on its own
            result.append(field.schema.normalize(item, join(path, i)))  # type: ignore[union-attr]
    return result


# ---------------------------------------------------------------------- replaced


def _replace(field: Field, have: Any, wanted: Any, keep_unnamed: bool) -> Any:
    if field.kind == "list":
        return _replace_groups(field, have or [], wanted)
    result: dict[str, Any] = {}
    for name, sub in field.schema.fields.items():  # type: ignore[union-attr]
        value = wanted.get(name)
        if value is None and keep_unnamed and have:
            result[name] = have.get(name)
        elif value is not None and sub.kind == "list" and sub.group:
            result[name] = _replace_groups(sub, (have or {}).get(name) or [], value)
        else:
            result[name] = value
    return result


def _replace_groups(field: Field, have: list[Any], wanted: list[Any]) -> list[Any]:
    """Elements of the groups named in `wanted` replaced by `wanted`'s, in place; others kept."""
    if not field.group:
        return wanted
    named = {group_of(field, item) for item in wanted}
    result: list[Any] = []
    placed: set[tuple[Any, ...]] = set()
    for item in have:
        group = group_of(field, item)
        if group not in named:
            result.append(item)
        elif group not in placed:
            result.extend(w for w in wanted if group_of(field, w) == group)
            placed.add(group)
    result.extend(w for w in wanted if group_of(field, w) not in placed)
    return result


# ---------------------------------------------------------------------- deleted


def _deleted_want(resource: model.Resource, config: Any) -> Any:
    if config is None or config == [] or config == {}:
        return None
    if resource.singleton:
        raise ModelError(PATH, f"is not used with state=deleted: it removes the whole {resource.name} section")
    if resource.field.kind == "list":  # security associations: by peer, or by peer and SPI
        selectors = []
        for i, item in enumerate(config):
            at = join(PATH, i)
            peer = v.peer(item.get("peer"), join(at, "peer"))
            spi = item.get("spi")
            spi = None if spi is None else model.SECURITY_ASSOCIATION.fields["spi"].check(spi, join(at, "spi"))
            selectors.append((peer, spi))
        return selectors
    return [name for name, value in config.items() if value is not None]  # rule lists to reset


def _delete(resource: model.Resource, have: Any, selectors: Any) -> Any:
    if resource.singleton:
        return None
    if resource.field.kind == "list":
        if selectors is None:
            return []
        return [sa for sa in have if not any(sa["peer"] == p and s in (None, sa["spi"]) for p, s in selectors)]
    defaults = resource.field.schema.defaults()  # type: ignore[union-attr]
    names = defaults if selectors is None else selectors
    return {name: (defaults[name] if name in names else value) for name, value in have.items()}


# ---------------------------------------------------------------------- order stability


def stabilize(field: Field, have: Any, new: Any) -> Any:
    """`new` with sets and unordered element lists that equal `have`'s (order aside) taken from
    `have`, so a different order in the input is not a change."""
    if have is None or new is None:
        return new
    if field.kind == "dict" and isinstance(have, dict):
        return {name: stabilize(sub, have.get(name), new[name]) if name in have else new[name]
                for name, sub in field.schema.fields.items()}  # type: ignore[union-attr]
    if field.kind != "list" or not isinstance(have, list):
        return new
    if field.schema is None:
        if field.ordered or len(have) != len(new) or set(have) != set(new):
            return new
        return have
    old = {identity_of(field, item): item for item in have}
    items = [stabilize(Field("dict", schema=field.schema), old.get(identity_of(field, item)), item)
             for item in new]
    if not field.ordered and field.identity and len(items) == len(have) and all(i in have for i in items):
        return have
    return items
