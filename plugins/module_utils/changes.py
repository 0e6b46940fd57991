# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed, as human-readable lines, and values made safe to show (keys masked).

Lines read "home_agent.max_lifetime: 1800 -> 600", "home_agent.home_networks: + 10.1.2.0/24",
"foreign_agent.interfaces[fa-visit]: added (...)", "security_associations[10.1.0.10 spi 257].key:
changed". A secret field's value never appears: not in lines, not in masked values (a key is
replaced by its fingerprint, as the agent shows it).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import keys
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import join
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import Field, identity_of

ABSENT = "(absent)"


def lines(field: Field, before: Any, after: Any, path: str) -> list[str]:
    """The change lines that turn `before` into `after` (both complete values of `field`)."""
    out: list[str] = []
    _diff(field, before, after, path, out)
    return out


def _diff(field: Field, before: Any, after: Any, path: str, out: list[str]) -> None:
    if before == after:
        return
    if field.kind == "dict":
        if after is None:
            out.append(f"{path}: removed")
            return
        if before is None:
            out.append(f"{path}: added")
        for name, sub in field.schema.fields.items():  # type: ignore[union-attr]
            old = None if before is None else before.get(name)
            if before is None and after.get(name) in (None, []):
                continue
            _diff(sub, old, after.get(name), join(path, name), out)
        return
    if field.kind != "list":
        if field.secret:
            out.append(f"{path}: {'set' if before is None else 'removed' if after is None else 'changed'}")
        else:
            out.append(f"{path}: {text(before)} -> {text(after)}")
        return
    before, after = before or [], after or []
    if field.schema is None:
        if field.ordered:
            out.append(f"{path}: {text(before)} -> {text(after)}")
            return
        out.extend(f"{path}: + {text(x)}" for x in after if x not in before)
        out.extend(f"{path}: - {text(x)}" for x in before if x not in after)
        return
    if field.ordered and not _has_secret(field):  # small ordered elements (filter rules): the whole list
        out.append(f"{path}: {text([compact(field, x) for x in before])} -> {text([compact(field, x) for x in after])}")
        return
    _diff_elements(field, before, after, path, out)


def _diff_elements(field: Field, before: list[Any], after: list[Any], path: str, out: list[str]) -> None:
    old = {identity_of(field, item): item for item in before}
    new = {identity_of(field, item): item for item in after}
    element = Field("dict", schema=field.schema)
    for ident, item in new.items():
        at = f"{path}[{label(field, item)}]"
        if ident not in old:
            out.append(f"{at}: added ({compact(field, item, with_identity=False)})")
        else:
            _diff(element, old[ident], item, at, out)
    out.extend(f"{path}[{label(field, item)}]: removed" for ident, item in old.items() if ident not in new)
    if field.ordered:
        kept_before = [i for i in old if i in new]
        kept_after = [i for i in new if i in old]
        if kept_before != kept_after:
            order = ", ".join(label(field, new[i]) for i in kept_after)
            out.append(f"{path}: order -> [{order}]")


def _has_secret(field: Field) -> bool:
    return field.schema is not None and any(f.secret for f in field.schema.fields.values())


def label(field: Field, item: dict[str, Any]) -> str:
    """How a list element is named in change lines: "fa-visit", "10.1.0.10 spi 257"."""
    parts = [str(item[name]) if i == 0 else f"{name} {item[name]}" for i, name in enumerate(field.identity)]
    return " ".join(parts)


def compact(field: Field, item: dict[str, Any], with_identity: bool = True) -> str:
    """A one-line summary of an element (secrets as "key set")."""
    parts = []
    for name, sub in field.schema.fields.items():  # type: ignore[union-attr]
        value = item.get(name)
        if value is None or (not with_identity and name in field.identity):
            continue
        if sub.secret:
            parts.append(f"{name} set")
        elif with_identity:
            parts.append(text(value))
        else:
            parts.append(f"{name}={text(value)}")
    return (" " if with_identity else ", ").join(parts)


def text(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(text(x) for x in value) + "]"
    return str(value)


def masked(field: Field, value: Any) -> Any:
    """`value` with every secret replaced by `<name>_fingerprint` (safe for before/after/diff)."""
    if value is None:
        return None
    if field.kind == "list" and field.schema is not None:
        element = Field("dict", schema=field.schema)
        return [masked(element, item) for item in value]
    if field.kind != "dict":
        return value
    out: dict[str, Any] = {}
    for name, sub in field.schema.fields.items():  # type: ignore[union-attr]
        if name not in value:
            continue
        if sub.secret:
            if value[name] is not None:
                out[f"{name}_fingerprint"] = _fingerprint(field, name, value)
        else:
            out[name] = masked(sub, value[name])
    return out


def _fingerprint(field: Field, name: str, value: dict[str, Any]) -> str:
    """A mobility key by its format (as the agent prints it); another secret (a RADIUS shared secret) by its
    UTF-8 bytes."""
    if "key_format" in field.schema.fields:  # type: ignore[union-attr]
        return keys.fingerprint(value[name], value.get("key_format") or "hex")
    return keys.key_fingerprint(value[name].encode("utf-8"))


def secrets(field: Field, value: Any) -> list[str]:
    """Every secret value inside `value` (to register as no_log values)."""
    found: list[str] = []
    if value is None:
        return found
    if field.kind == "list" and field.schema is not None:
        element = Field("dict", schema=field.schema)
        for item in value:
            found.extend(secrets(element, item))
    elif field.kind == "dict":
        for name, sub in field.schema.fields.items():  # type: ignore[union-attr]
            if sub.secret and value.get(name):
                found.append(value[name])
            elif name in value:
                found.extend(secrets(sub, value[name]))
    return found
