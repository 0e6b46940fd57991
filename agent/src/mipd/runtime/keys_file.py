"""The keys file: security associations (RFC 5944 §3.5, §5.1) and RADIUS shared secrets.

A home agent's keys file can hold a million SAs, so it is read in one streaming pass, an entry at a
time, into the compact table of :mod:`mipd.security.table`; no tree of the whole document is built.
Each list entry is read by :mod:`mipd.runtime.keys_lines` (the flow and block forms the collection
and most people write) or, when it uses any other YAML, by the YAML loader on that entry's lines
alone. A file whose layout is not a top-level mapping of these keys with one list entry after
another, or any YAML problem, is read whole by the YAML loader instead: same values, same errors.

Validation is as strict either way and no error shows a value from this file: a key placed in the
wrong field (`spi`, `peer`, a role, an unknown key's name...) would be echoed otherwise. Errors name
the field, the value's kind and the line of the entry.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

from mipd.runtime import keys_lines, schema, yamlfile
from mipd.runtime.keys_lines import SA_KEYS
from mipd.runtime.radius_config import read_secrets
from mipd.runtime.schema import ConfigError, Section
from mipd.security import ALGORITHMS, REPLAY_METHODS, SPI_MIN, SecurityAssociation, SecurityAssociations, parse_key
from mipd.security.associations import DEFAULT_REPLAY_WINDOW, SPI_MAX
from mipd.security.keys import KEY_FORMS
from mipd.security.table import pack, pack_fields

ROLES = ("home_agent", "foreign_agent", "mobile_node")
SA_LIST, RADIUS_SECRETS = "security_associations", "radius_secrets"
_SA_KEY_SET = frozenset(SA_KEYS)
_TOP_KEY = re.compile(r"(security_associations|radius_secrets): *(?:#.*)?").fullmatch

READ_BUFFER = 1 << 20  # bytes read at a time
# Off the main thread (a reload), the reader sleeps briefly every PAUSE_EVERY entries (about 6 ms of
# work): CPython's forced GIL switch did not give the event loop's thread a turn for up to 350 ms while
# a 65,000-SA file was read; a sleep hands the GIL to a waiting thread at once.
PAUSE_EVERY = 1000
PAUSE = 0.0001  # seconds

Roles = dict[tuple[str, int], tuple[str, ...]]


@dataclass
class KeysFile:
    """What a keys file holds: the SAs, the roles of those limited to some, the RADIUS secrets."""

    sas: SecurityAssociations = field(default_factory=SecurityAssociations)
    sa_roles: Roles = field(default_factory=dict)
    radius_secrets: dict[str, bytes] = field(default_factory=dict)


class _NotStreamable(Exception):
    """The file's layout is not one the streaming reader follows: read it whole instead."""


def read_keys_file(path: str) -> KeysFile:
    """The keys file at `path`. Raises ConfigError naming the field (and line), never showing a value."""
    try:
        try:
            return _stream(path)
        except _NotStreamable:
            return _whole(path)
    except ConfigError as e:
        e.file = path
        raise e.hide_value() from None


# ------------------------------------------------------------------ one pass, an entry at a time


def _stream(path: str) -> KeysFile:
    result = KeysFile()
    seen: set[str] = set()
    try:
        with open(path, encoding="utf-8", newline="", buffering=READ_BUFFER) as lines:
            for name, body in _top_level(lines):
                if name in seen:
                    raise _NotStreamable  # a duplicate key: the YAML loader's error
                seen.add(name)
                if name == SA_LIST:
                    _read_entries(body, result)
                else:
                    result.radius_secrets = _read_secrets(body)
    except (OSError, UnicodeDecodeError):
        raise _NotStreamable from None  # the whole-file reader says what is wrong
    return result


def _top_level(lines: Iterator[str]) -> Iterator[tuple[str, Iterator[tuple[int, str]]]]:
    """(name, its lines) of each top-level key, consuming the file once."""
    numbered = _numbered(lines)
    pending = next((line for line in numbered if not keys_lines.ignorable(line[1])), None)
    while pending is not None:
        match = _TOP_KEY(pending[1])
        if match is None:
            raise _NotStreamable
        body = _Body(numbered)
        yield match.group(1), iter(body)
        body.drain()
        pending = body.next_top


def _numbered(lines: Iterator[str]) -> Iterator[tuple[int, str]]:
    """(line number, text without its newline) of every line."""
    for lineno, line in enumerate(lines, 1):
        text = line[:-1] if line.endswith("\n") else line
        if "\r" in text or "\t" in text or text.startswith(("---", "...", "%")):
            raise _NotStreamable
        yield lineno, text


class _Body:
    """The lines under one top-level key: up to the next line that starts in column 0 and is not a list
    item (list items may start there: `- peer: ...` right under `security_associations:`), nor a
    blank line or a comment."""

    def __init__(self, numbered: Iterator[tuple[int, str]]) -> None:
        self._numbered = numbered
        self.next_top: tuple[int, str] | None = None
        self._done = False

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for lineno, text in self._numbered:
            if text[:1] not in ("", " ", "#") and not keys_lines.starts_item(text, 0):
                self.next_top = (lineno, text)
                break
            yield lineno, text
        self._done = True

    def drain(self) -> None:
        if not self._done:
            for _ in self:
                pass


def _read_entries(body: Iterator[tuple[int, str]], result: KeysFile) -> None:
    pause = threading.current_thread() is not threading.main_thread()
    for index, (lineno, lines) in enumerate(keys_lines.entries(body, _NotStreamable)):
        if pause and index % PAUSE_EVERY == PAUSE_EVERY - 1:
            time.sleep(PAUSE)
        where = schema.join(SA_LIST, index)
        entry = keys_lines.read_entry(lines)
        if entry is None:
            entry = _yaml_entry(lines)
        try:
            _add(entry, where, result)
        except ConfigError as e:
            e.line = lineno
            raise


def _yaml_entry(lines: list[str]) -> object:
    """One list entry in YAML that keys_lines does not read: the YAML loader on its lines alone."""
    try:
        value = yamlfile.parse_text("\n".join(lines))
    except yaml.YAMLError:
        raise _NotStreamable from None
    if not isinstance(value, list) or len(value) != 1:
        raise _NotStreamable
    return value[0]


def _read_secrets(body: Iterator[tuple[int, str]]) -> dict[str, bytes]:
    text = f"{RADIUS_SECRETS}:\n" + "\n".join(text for _, text in body)
    try:
        value = yamlfile.parse_text(text)
    except yaml.YAMLError:
        raise _NotStreamable from None
    if not isinstance(value, dict):
        raise _NotStreamable
    return read_secrets(value.get(RADIUS_SECRETS), RADIUS_SECRETS)


# ------------------------------------------------------------------ the whole document


def _whole(path: str) -> KeysFile:
    top = Section(yamlfile.load(path, "keys_file", secret=True), "", (SA_LIST, RADIUS_SECRETS))
    result = KeysFile()
    if top.has(RADIUS_SECRETS):
        result.radius_secrets = read_secrets(top.raw(RADIUS_SECRETS), RADIUS_SECRETS)
    entries = top.raw(SA_LIST, [])
    if not isinstance(entries, list):
        raise ConfigError(SA_LIST, f"must be a list, got {schema.VALUE}", value=entries)
    for index, entry in enumerate(entries):
        _add(entry, schema.join(SA_LIST, index), result)
    yamlfile.release(entries)  # in chunks: a reload thread must not hold the GIL for long
    return result


# ------------------------------------------------------------------ one SA


def _add(entry: object, where: str, result: KeysFile) -> None:
    """Validate one entry and add it to `result` (RFC 5944 §1.6: one SA per (peer, SPI))."""
    fields = _simple_fields(entry)
    if fields is not None:
        peer, spi = fields[0], fields[1]
        packed = pack_fields(*fields[1:])
    else:
        sa = security_association(entry, where)
        peer, spi, packed = sa.peer, sa.spi, pack(sa)
    try:
        result.sas.add_packed(peer, spi, packed)
    except ValueError:  # the table refuses a second SA with this (peer, SPI)
        raise ConfigError(schema.join(where, "spi"), f"peer {peer} already has an SA with SPI {spi}") from None
    roles = entry.get("roles") if isinstance(entry, dict) else None
    if roles is not None:
        result.sa_roles[(peer, spi)] = schema.items(roles, schema.join(where, "roles"),
                                                    lambda item, at: schema.choice(item, at, ROLES), min_items=1)


def _simple_fields(entry: object) -> tuple[str, int, bytes, str, str, int, bool] | None:
    """The fields of an entry that is plainly valid, checked quickly; None: let `security_association`
    judge it (it gives the errors)."""
    if type(entry) is not dict or not _SA_KEY_SET.issuperset(entry):
        return None
    peer, spi = entry.get("peer"), entry.get("spi")
    if type(peer) is not str or type(spi) is not int or not SPI_MIN <= spi <= SPI_MAX:
        return None
    if not schema.plain_unicast_ipv4(peer) and ("@" not in peer or len(peer.encode()) > 255
                                               or any(c.isspace() for c in peer)):
        return None
    form, key = entry.get("key_format", "hex"), entry.get("key")
    algorithm = entry.get("algorithm", ALGORITHMS[0])
    replay, window = entry.get("replay", REPLAY_METHODS[0]), entry.get("replay_window", DEFAULT_REPLAY_WINDOW)
    fallback = entry.get("fallback", False)
    if (form not in KEY_FORMS or type(key) is not str or algorithm not in ALGORITHMS or replay not in REPLAY_METHODS
            or type(window) is not int or not 1 <= window <= 3600 or type(fallback) is not bool):
        return None
    try:
        key_bytes = parse_key(key, form)
    except ValueError:
        return None
    return peer, spi, key_bytes, algorithm, replay, window, fallback


def security_association(value: object, path: str) -> SecurityAssociation:
    """One keys file entry, every field checked; ConfigError names the field that is wrong."""
    sec = Section(value, path, SA_KEYS)
    peer = sec.get("peer", _peer)
    spi = sec.get("spi", _spi)
    form = sec.get("key_format", schema.choice, "hex", KEY_FORMS)
    raw_key = sec.raw("key")  # never passed to describe(): a key value must not reach any message
    if not isinstance(raw_key, str):
        kind = "number" if isinstance(raw_key, (int, float)) else "non-string"
        raise ConfigError(sec.at("key"), f'must be a quoted string (YAML read this key as a {kind}; write key: "...")')
    try:
        key = parse_key(raw_key, form)
    except ValueError as e:
        raise ConfigError(sec.at("key"), str(e)) from None  # parse_key's messages never echo the value
    return SecurityAssociation(
        peer=peer,
        spi=spi,
        key=key,
        algorithm=sec.get("algorithm", schema.choice, "hmac-md5", ALGORITHMS),
        replay=sec.get("replay", schema.choice, "timestamp", REPLAY_METHODS),
        replay_window=sec.get("replay_window", schema.integer, 7, 1, 3600),
        fallback=sec.get("fallback", schema.boolean, False),
    )


def _spi(value: object, path: str) -> int:
    if schema.is_int(value) and 0 <= value < SPI_MIN:  # type: ignore[operator]
        raise ConfigError(path, f"0-{SPI_MIN - 1} are reserved (RFC 5944 §1.6), got {schema.VALUE}", value=value)
    return schema.integer(value, path, SPI_MIN, SPI_MAX)


def _peer(value: object, path: str) -> str:
    if isinstance(value, str) and "@" in value:
        return schema.nai(value, path)
    try:
        return schema.ipv4(value, path)
    except ConfigError:
        raise ConfigError(path, f"must be an IPv4 address or an NAI (user@realm), got {schema.VALUE}",
                          value=value) from None
