# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IOS configuration lines: reading a running configuration, the line-kind tables, and the minimal
commands between two configurations.

After cisco.ios's rm_templates: each resource module (home_agent.py, ...) has a table of line
kinds. A `LineKind` reads one line with a regex (`getval`, plus `options` for the keywords IOS
lets follow in any order), writes it with a template (`setval`), names its `no` form (`remval`),
and says which model fields it carries (`model`, used for the mapping table in the docs).

A configuration is held as facts: {(context, kind, identity): values}. context is "" for global
lines, or the section header ("interface Ethernet0/1", "ip mobile router"). Reading is tolerant
(show outputs and running-configs differ between releases): lines no kind reads are ignored;
keywords a kind does not know are kept in values[UNKNOWN] so the resource can say the model cannot
express them.

Commands (`diff`): global lines first, then each section under its header (never a header with
nothing under it); in each context the `no` lines first (the later kind first: hosts before the
virtual network they use), then new and changed lines in table order; kinds marked `remove_last`
(security associations) are removed after everything is added, so a new SPI is in place before an
old one goes (RFC 5944 §5.6 key rollover). A kind marked `replace_with_no` (an access list) is
removed and written again when it changes (a numbered list cannot be edited in place).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils import keys
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import Commands

GLOBAL = ""
INTERFACE = "interface"
MOBILE_ROUTER = "ip mobile router"
UNKNOWN = "_unknown"
IP = r"\d{1,3}(?:\.\d{1,3}){3}"
_SKIPPED = re.compile(r"^(?:!|Building configuration|Current configuration|end$|version )")
_SECTION = re.compile(rf"^(?:interface \S+|{MOBILE_ROUTER}|ip access-list standard \S+)$")

Values = dict[str, Any]
Key = tuple[str, str, tuple[Any, ...]]
Facts = dict[Key, Values]


# ---------------------------------------------------------------------- value converters


def ipv4(text: str) -> str:
    return str(ipaddress.IPv4Address(text))


def number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def prefix_of(address: str, mask: str) -> str:
    """"10.1.0.1", "255.255.255.0" -> "10.1.0.0/24" (ValueError for a non-contiguous mask)."""
    return str(ipaddress.IPv4Network(f"{address}/{mask}", strict=False))


def netmask(prefix: str) -> tuple[str, str]:
    """"10.1.0.0/24" -> ("10.1.0.0", "255.255.255.0")."""
    net = ipaddress.IPv4Network(prefix, strict=False)
    return str(net.network_address), str(net.netmask)


# ---------------------------------------------------------------------- line kinds


class Option:
    """A keyword that may follow a line's head: a flag, or a keyword with one value (`convert`);
    `then`: words that may follow it (`reverse-tunnel mandatory`), each a flag of its own."""

    __slots__ = ("name", "convert", "then")

    def __init__(self, name: str, convert: Callable[[str], Any] | None = None, then: tuple[str, ...] = ()) -> None:
        self.name = name
        self.convert = convert
        self.then = then


class LineKind:
    """One kind of configuration line: a parser table entry (see the module docstring)."""

    __slots__ = ("name", "context", "getval", "options", "setval", "remval", "identity", "model", "secret",
                 "remove_last", "replace_with_no", "collect", "convert", "finish", "explicit_default")

    def __init__(self, name: str, context: str, getval: str, setval: Callable[[Values], str | list[str]],
                 remval: Callable[[Values], str] | None = None, identity: tuple[str, ...] = (),
                 options: dict[str, Option] | None = None, model: tuple[str, ...] = (), secret: tuple[str, ...] = (),
                 remove_last: bool = False, replace_with_no: bool = False,
                 collect: Callable[[Values], Any] | None = None,
                 convert: dict[str, Callable[[str], Any]] | None = None,
                 finish: Callable[[Values, str], Values] | None = None, explicit_default: bool = False) -> None:
        self.name = name
        self.context = context
        self.getval = re.compile(getval)
        self.setval = setval
        self.remval = remval or (lambda values: "no " + _first(setval(values)))
        self.identity = identity
        self.options = options or {}
        self.model = model
        self.secret = secret
        self.remove_last = remove_last
        self.replace_with_no = replace_with_no
        self.collect = collect  # several lines make one fact (access-list entries): each line's item
        self.convert = convert or {}  # group -> its value from the text
        self.finish = finish  # (values, line) -> the values as facts hold them
        # a line that may state a default: left on the router when the value it holds is still meant
        self.explicit_default = explicit_default

    def read(self, line: str) -> Values | None:
        """The values of `line`, or None when it is not of this kind."""
        match = self.getval.match(line)
        if match is None:
            return None
        values: Values = {}
        for name, text in match.groupdict().items():
            if text is None or name == "options":
                continue
            try:
                values[name] = self.convert.get(name, _same)(text)
            except ValueError:
                return None
        tail = match.groupdict().get("options")
        if tail is not None:
            values.update(read_options(tail.split(), self.options))
        return self.finish(values, line) if self.finish else values

    def lines(self, values: Values, shown: bool) -> list[str]:
        """The line(s) for `values`: as sent, or as shown (secret values masked)."""
        if shown and self.secret:
            values = {k: (keys.MASK if k in self.secret else v) for k, v in values.items()}
        text = self.setval(values)
        return [text] if isinstance(text, str) else text


def _same(text: str) -> str:
    return text


def _first(text: str | list[str]) -> str:
    return text if isinstance(text, str) else text[0]


def read_options(words: list[str], options: dict[str, Option]) -> Values:
    """Keywords in any order; what is not understood goes to values[UNKNOWN]."""
    values: Values = {}
    unknown: list[str] = []
    i = 0
    while i < len(words):
        option = options.get(words[i])
        if option is None:
            unknown.append(words[i])
            i += 1
            continue
        if option.convert is None:
            values[option.name] = True
            i += 1
        else:
            try:
                values[option.name] = option.convert(words[i + 1])
            except (IndexError, ValueError):
                unknown.append(words[i])
                i += 1
                continue
            i += 2
        while i < len(words) and words[i] in option.then:
            values[words[i].replace("-", "_")] = True
            i += 1
    if unknown:
        values[UNKNOWN] = unknown
    return values


def one_of(*choices: str) -> Callable[[str], str]:
    """A converter taking only these words (ValueError otherwise)."""
    def convert(word: str) -> str:
        if word not in choices:
            raise ValueError(word)
        return word

    return convert


def words(*parts: Any) -> str:
    """A line from its parts, leaving out None and False; True-valued parts are written as given."""
    return " ".join(str(p) for p in parts if p is not None and p is not False and p != "")


def flag(value: Any, word: str) -> str | None:
    return word if value else None


def option(value: Any, word: str) -> str | None:
    return None if value is None else f"{word} {value}"


# ---------------------------------------------------------------------- the running configuration


class RunningConfig:
    """A running configuration (or the parts of it `show running-config | include ...` returned).

    globals: top-level lines; sections: header -> its lines (stripped), in order; interfaces:
    name -> [(address, prefix, secondary)] from `ip address`; facts: what the tables read.
    """

    def __init__(self, text: str, kinds: list[LineKind]) -> None:
        self.globals: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self._split(text)
        self.interfaces: dict[str, list[tuple[str, str, bool]]] = {}
        for header, body in self.sections.items():
            if header.startswith("interface "):
                self.interfaces[header.split(" ", 1)[1]] = _addresses(body)
        self.facts: Facts = read_facts(self, kinds)

    def _split(self, text: str) -> None:
        current: list[str] | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line.strip() or _SKIPPED.match(line.strip()):
                if line.strip() == "!":
                    current = None
                continue
            if line[0].isspace():
                line = " ".join(line.split())  # IOS pads some columns with spaces
                if current is not None and line not in current:
                    current.append(line)
                continue
            line = " ".join(line.split())
            if _SECTION.match(line):
                current = self.sections.setdefault(line, [])
            else:
                current = None
                if line not in self.globals:
                    self.globals.append(line)

    def address_of(self, interface: str) -> str | None:
        """The primary address of `interface` (None when unknown)."""
        for address, _prefix, secondary in self.interfaces.get(interface, []):
            if not secondary:
                return address
        return None

    def interface_with(self, address: str) -> str | None:
        """The interface holding `address` (None when unknown)."""
        for name, found in self.interfaces.items():
            if any(a == address for a, _p, _s in found):
                return name
        return None


def _addresses(body: list[str]) -> list[tuple[str, str, bool]]:
    found = []
    for line in body:
        match = re.match(rf"^ip address ({IP}) ({IP})( secondary)?$", line)
        if match:
            try:
                found.append((ipv4(match.group(1)), prefix_of(match.group(1), match.group(2)), bool(match.group(3))))
            except ValueError:
                continue
    return found


def context_of(header: str) -> str:
    return INTERFACE if header.startswith("interface ") else header


def read_facts(config: RunningConfig, kinds: list[LineKind]) -> Facts:
    facts: Facts = {}
    by_context: dict[str, list[LineKind]] = {}
    for kind in kinds:
        by_context.setdefault(kind.context, []).append(kind)
    _read_lines(GLOBAL, config.globals, by_context.get(GLOBAL, []), facts)
    for header, body in config.sections.items():
        _read_lines(header, body, by_context.get(context_of(header), []), facts)
    return facts


def _read_lines(context: str, lines: list[str], kinds: list[LineKind], facts: Facts) -> None:
    for line in lines:
        for kind in kinds:
            values = kind.read(line)
            if values is None:
                continue
            key = (context, kind.name, tuple(values.get(name) for name in kind.identity))
            if kind.collect is not None:
                fact = facts.setdefault(key, {**{name: values.get(name) for name in kind.identity}, "entries": []})
                fact["entries"].append(kind.collect(values))
            elif key not in facts:
                facts[key] = values
            break


def of_kind(facts: Facts, name: str, context: str | None = None) -> list[tuple[Key, Values]]:
    """The facts of one kind (in one context, or in any)."""
    return [(key, values) for key, values in facts.items()
            if key[1] == name and (context is None or key[0] == context)]


def without(facts: Facts, names: tuple[str, ...], contexts: tuple[str, ...] | None = None) -> Facts:
    """`facts` without those of the kinds named (in the contexts named, or anywhere)."""
    return {key: values for key, values in facts.items()
            if not (key[1] in names and (contexts is None or key[0] in contexts))}


def put(facts: Facts, kind: LineKind, values: Values, context: str = GLOBAL) -> None:
    """Add a line's fact; options not set (None, False) are left out, as reading leaves them out."""
    values = {k: v for k, v in values.items() if v is not None and v is not False}
    facts[(context, kind.name, tuple(values.get(name) for name in kind.identity))] = values


# ---------------------------------------------------------------------- text and commands


def render(facts: Facts, kinds: dict[str, LineKind], shown: bool = True) -> str:
    """The configuration text of `facts`: global lines, then each section with its lines indented."""
    out: list[str] = []
    for key, values in _in_order(facts, kinds):
        if key[0] == GLOBAL:
            out.extend(kinds[key[1]].lines(values, shown))
    for context in _sections(facts):
        out.append(context)
        for key, values in _in_order(facts, kinds):
            if key[0] == context:
                out.extend(" " + line for line in kinds[key[1]].lines(values, shown))
        out.append("!")
    return "".join(line + "\n" for line in out)


def diff(before: Facts, after: Facts, kinds: dict[str, LineKind]) -> Commands:
    """The minimal commands that turn `before` into `after` (see the module docstring for the order)."""
    out = Commands()
    last = Commands()
    sections = _sections(after, before)
    contexts = [GLOBAL, *(c for c in sections if c == MOBILE_ROUTER), *(c for c in sections if c != MOBILE_ROUTER)]
    for context in contexts:
        block = Commands()
        gone = [k for k in before if k[0] == context and k not in after]
        if context == MOBILE_ROUTER and gone and not any(k[0] == context for k in after):
            out.add(f"no {MOBILE_ROUTER}")  # the whole section goes
            continue
        for key in sorted(gone, key=lambda k: -_rank(kinds, k)):
            kind = kinds[key[1]]
            (last if kind.remove_last else block).add(_no_line(kind, before[key]))
        for key, values in _in_order(after, kinds):
            if key[0] != context or before.get(key) == values:
                continue
            kind = kinds[key[1]]
            if key in before and kind.replace_with_no:
                block.add(_no_line(kind, before[key]))
            for shown, sent in zip(kind.lines(values, True), kind.lines(values, False)):
                block.add(shown, sent)
        if block and context != GLOBAL:
            out.add(context)
        out.extend(block)
    out.extend(last)
    return out


def _no_line(kind: LineKind, values: Values) -> str:
    return kind.remval(values)  # identity only: never a key


def _rank(kinds: dict[str, LineKind], key: Key) -> int:
    return list(kinds).index(key[1])


def _in_order(facts: Facts, kinds: dict[str, LineKind]) -> list[tuple[Key, Values]]:
    """Facts in table order (a stable sort: lines of one kind keep their order)."""
    return sorted(facts.items(), key=lambda item: _rank(kinds, item[0]))


def _sections(*all_facts: Facts) -> list[str]:
    seen: list[str] = []
    for facts in all_facts:
        for key in facts:
            if key[0] != GLOBAL and key[0] not in seen:
                seen.append(key[0])
    return seen
