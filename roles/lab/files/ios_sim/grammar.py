"""Command grammar as data, and the matcher that walks it the way the IOS parser does.

A mode's commands are trees of elements (keywords, typed arguments, sequences, optional parts,
alternatives, options in any order, bounded repetition). One matcher serves every mode, so that
IOS behaviours come from one place:

- keywords match case-insensitively by any unique prefix (`sh ip mob bind`); an exact keyword
  wins over a longer one it prefixes; two or more keywords sharing the prefix give
  `% Ambiguous command:  "LINE"`;
- a token nothing accepts gives `% Invalid input detected at '^' marker.` with the caret under
  the token's first character (IOS prints the caret counted from the start of the prompt);
- a line that stops before a command is complete gives `% Incomplete command.`;
- an argument marked secret is masked wherever the line is logged (IOS shows Mobile IP keys in
  running-config, so the running config is secret; the session log must never hold them).

The matcher simulates all alternatives at once (an NFA over the element tree), so options in any
order and keyword/argument choices need no backtracking and no special cases.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# ------------------------------------------------------------------ tokens


@dataclass(frozen=True, slots=True)
class Token:
    """A whitespace-separated word of the line and the column it starts at."""

    text: str
    column: int


def tokenize(line: str) -> list[Token]:
    """The line's words with their columns (IOS splits on blanks; no quoting for these commands)."""
    return [Token(m.group(), m.start()) for m in re.finditer(r"\S+", line)]


# ------------------------------------------------------------------ argument types


class ArgType:
    """What an argument accepts; `placeholder` is how IOS help names it (A.B.C.D, <1-65535>, WORD)."""

    placeholder = "WORD"

    def accept(self, text: str) -> Any:
        """The parsed value, or None when the token is not of this type."""
        return text


class Word(ArgType):
    """Any single word (access-list names, NAIs, pool names)."""


class Line(ArgType):
    """The rest of the line, blanks included (description, remark, pipe regular expressions)."""

    placeholder = "LINE"


@dataclass(frozen=True)
class Pattern(ArgType):
    """A word matching a regular expression (hex keys: IOS checks the characters as it parses)."""

    regex: str
    placeholder: str = "WORD"

    def accept(self, text: str) -> Any:
        return text if re.fullmatch(self.regex, text) else None


class IPv4Address(ArgType):
    """A dotted-quad address (IOS rejects anything else at the first bad token)."""

    placeholder = "A.B.C.D"

    def accept(self, text: str) -> Any:
        if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text):
            return None
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            return None


@dataclass(frozen=True)
class Number(ArgType):
    """A decimal integer in [low, high]; out of range is invalid input at that token, as in IOS."""

    low: int
    high: int

    @property
    def placeholder(self) -> str:  # type: ignore[override]
        return f"<{self.low}-{self.high}>"

    def accept(self, text: str) -> Any:
        if not re.fullmatch(r"-?\d+", text):
            return None
        value = int(text)
        return value if self.low <= value <= self.high else None


@dataclass(frozen=True)
class HexNumber(ArgType):
    """A hexadecimal integer in [low, high] (IOS takes Mobile IP SPIs in hex: `spi 100` is 0x100)."""

    low: int
    high: int

    @property
    def placeholder(self) -> str:  # type: ignore[override]
        return f"<{self.low:X}-{self.high:X}>"

    def accept(self, text: str) -> Any:
        if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", text):
            return None
        value = int(text, 16)
        return value if self.low <= value <= self.high else None


# ------------------------------------------------------------------ grammar elements


class Element:
    """A node of a command's grammar."""


@dataclass(frozen=True, eq=False)
class Kw(Element):
    """A keyword; `key` stores the word under that name (default: the word itself, value True)."""

    word: str
    key: str | None = None
    help: str = ""


@dataclass(frozen=True, eq=False)
class Arg(Element):
    """A typed argument stored under `name`; `multi` collects repeats in a list; `secret` masks it in logs."""

    name: str
    type: ArgType
    help: str = ""
    secret: bool = False
    multi: bool = False


@dataclass(frozen=True, eq=False)
class Seq(Element):
    items: tuple[Element, ...]


@dataclass(frozen=True, eq=False)
class Opt(Element):
    item: Element


@dataclass(frozen=True, eq=False)
class Alt(Element):
    options: tuple[Element, ...]


@dataclass(frozen=True, eq=False)
class AnyOrder(Element):
    """Optional clauses, each at most once, in any order (IOS option lists such as `ip mobile home-agent`)."""

    clauses: tuple[Element, ...]


@dataclass(frozen=True, eq=False)
class Repeat(Element):
    """`item` between `low` and `high` times (`static-address A.B.C.D ...`)."""

    item: Element
    low: int
    high: int


@dataclass(frozen=True, eq=False)
class Done(Element):
    """End of a command: the line may stop here and run `command`."""

    command: Any


def seq(*items: Element | str) -> Element:
    """A sequence; plain strings are keywords (`seq("ip", "mobile", "host", ...)`)."""
    elements = tuple(Kw(i) if isinstance(i, str) else i for i in items)
    return elements[0] if len(elements) == 1 else Seq(elements)


def opt(*items: Element | str) -> Opt:
    return Opt(seq(*items))


def alt(*options: Element | str) -> Alt:
    return Alt(tuple(Kw(o) if isinstance(o, str) else o for o in options))


def any_order(*clauses: Element | str) -> AnyOrder:
    return AnyOrder(tuple(Kw(c) if isinstance(c, str) else c for c in clauses))


def _children(element: Element) -> tuple[Element, ...]:
    if isinstance(element, Seq):
        return element.items
    if isinstance(element, Alt):
        return element.options
    if isinstance(element, AnyOrder):
        return element.clauses
    if isinstance(element, (Opt, Repeat)):
        return (element.item,)
    return ()


def contains_secret(element: Element) -> bool:
    """Whether an element (or anything under it) is a secret argument."""
    if isinstance(element, Arg):
        return element.secret
    return any(contains_secret(c) for c in _children(element))


def secret_keywords(element: Element) -> set[str]:
    """Keywords directly followed by something holding a secret (`key`, `hex`, `ascii`): in a line
    the grammar refuses, what follows one of them is masked in logs (a mistyped key is still a key)."""
    found: set[str] = set()
    if isinstance(element, Seq):
        for word, following in zip(element.items, element.items[1:], strict=False):
            if isinstance(word, Kw) and contains_secret(following):
                found.add(word.word)
    for child in _children(element):
        found |= secret_keywords(child)
    return found


# ------------------------------------------------------------------ matching


@dataclass(frozen=True, slots=True)
class _Thread:
    """One way of reading the line so far: what is left to match and what was captured."""

    stack: tuple[Element, ...]
    captures: tuple[tuple[str, Any, bool], ...] = ()  # (name, value, multi)
    secrets: tuple[int, ...] = ()  # indexes of tokens matched by secret arguments


@dataclass(frozen=True, slots=True)
class _Remaining(Element):
    """AnyOrder with some clauses already used."""

    clauses: tuple[Element, ...]


@dataclass(frozen=True, slots=True)
class _RepeatLeft(Element):
    item: Element
    done: int
    low: int
    high: int


@dataclass
class Match:
    """A complete command: which one, its arguments, and the token indexes to mask in logs."""

    command: Any
    args: dict[str, Any]
    secret_tokens: frozenset[int]


@dataclass
class ParseError(Exception):
    """A line IOS would refuse; `render(prompt_width)` gives the device's exact message lines."""

    kind: str  # "invalid", "incomplete", "ambiguous"
    line: str
    column: int = 0
    mask_from: int | None = None  # token index from which the log must mask (unparsed secret-bearing line)
    secret_tokens: frozenset[int] = field(default_factory=frozenset)

    @property
    def message(self) -> str:
        return self.render(0)[-2 if self.kind == "invalid" else 0]

    def render(self, prompt_width: int) -> list[str]:
        if self.kind == "incomplete":
            return ["% Incomplete command.", ""]
        if self.kind == "ambiguous":
            return [f'% Ambiguous command:  "{self.line.strip()}"']
        return [" " * (prompt_width + self.column) + "^", "% Invalid input detected at '^' marker.", ""]


def _expand(thread: _Thread) -> Iterator[tuple[Element | None, _Thread]]:
    """The terminals (Kw, Arg, Done; None = end of grammar) this thread can meet next."""
    if not thread.stack:
        yield None, thread
        return
    head, rest = thread.stack[0], thread.stack[1:]

    def push(*elements: Element) -> Iterator[tuple[Element | None, _Thread]]:
        return _expand(_Thread(tuple(elements) + rest, thread.captures, thread.secrets))

    if isinstance(head, (Kw, Arg, Done)):
        yield head, _Thread(rest, thread.captures, thread.secrets)
    elif isinstance(head, Seq):
        yield from push(*head.items)
    elif isinstance(head, Opt):
        yield from push()
        yield from push(head.item)
    elif isinstance(head, Alt):
        for option in head.options:
            yield from push(option)
    elif isinstance(head, (AnyOrder, _Remaining)):
        yield from push()
        for index, clause in enumerate(head.clauses):
            left = head.clauses[:index] + head.clauses[index + 1:]
            yield from push(clause, _Remaining(left)) if left else push(clause)
    elif isinstance(head, Repeat):
        yield from push(_RepeatLeft(head.item, 0, head.low, head.high))
    elif isinstance(head, _RepeatLeft):
        if head.done >= head.low:
            yield from push()
        if head.done < head.high:
            yield from push(head.item, _RepeatLeft(head.item, head.done + 1, head.low, head.high))


def _consume(terminal: Element, thread: _Thread, value: Any, index: int) -> _Thread:
    if isinstance(terminal, Kw):
        entry = (terminal.key, terminal.word, False) if terminal.key else (terminal.word, True, False)
        return _Thread(thread.stack, thread.captures + (entry,), thread.secrets)
    assert isinstance(terminal, Arg)
    secrets = thread.secrets + ((index,) if terminal.secret else ())
    return _Thread(thread.stack, thread.captures + ((terminal.name, value, terminal.multi),), secrets)


def _args(captures: tuple[tuple[str, Any, bool], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value, multi in captures:
        if multi:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _command_of(thread: _Thread) -> Any:
    for element in reversed(thread.stack):
        if isinstance(element, Done):
            return element.command
    return None


def _mask_from(grammar: Element, tokens: list[Token], failed: int, threads: list[_Thread],
               candidates: list[tuple[Element, _Thread]], is_secret: Callable[[Any], bool]) -> int | None:
    """Where masking starts in a refused line of a command that can carry a key: at the failing
    token if a secret was expected there, else after the first word abbreviating a keyword that
    introduces a secret (`key hexx 00112233...` hides `hexx 00112233...`); None: nothing to hide."""
    if not any(is_secret(_command_of(t)) for t in threads) or any(t.secrets for t in threads):
        return None  # no key possible, or the key was read (and is masked as such)
    if any(isinstance(term, Arg) and term.secret for term, _t in candidates):
        return failed
    words = secret_keywords(grammar)
    for index, token in enumerate(tokens):
        if any(word.startswith(token.text.lower()) for word in words):
            return index + 1
    return None


def _walk(grammar: Element, tokens: list[Token], line: str,
          is_secret: Callable[[Any], bool]) -> tuple[list[_Thread], bool]:
    """The ways of reading all `tokens` (and whether a LINE argument took the rest of the line)."""
    threads = [_Thread((grammar,))]
    for index, token in enumerate(tokens):
        candidates = [(term, t) for thread in threads for term, t in _expand(thread) if isinstance(term, (Kw, Arg))]
        word = token.text.lower()
        keywords = [(term, t) for term, t in candidates if isinstance(term, Kw) and term.word.startswith(word)]
        exact = [(term, t) for term, t in keywords if term.word == word]
        chosen: list[tuple[Element, _Thread, Any]]
        if exact:
            chosen = [(term, t, None) for term, t in exact]
        elif len({term.word for term, _t in keywords}) > 1:
            raise ParseError("ambiguous", line, token.column)
        elif keywords:
            chosen = [(term, t, None) for term, t in keywords]
        else:
            chosen = []
            for term, t in candidates:
                if isinstance(term, Arg):
                    text = line[token.column:].rstrip() if isinstance(term.type, Line) else token.text
                    value = term.type.accept(text)
                    if value is not None:
                        chosen.append((term, t, value))
        if not chosen:
            mask = _mask_from(grammar, tokens, index, threads, candidates, is_secret)
            raise ParseError("invalid", line, token.column, mask_from=mask,
                             secret_tokens=frozenset(s for t in threads for s in t.secrets))
        threads = [_consume(term, t, value, index) for term, t, value in chosen]
        if any(isinstance(term, Arg) and isinstance(term.type, Line) for term, _t, _v in chosen):
            return threads, True  # the rest of the line was consumed
    return threads, False


def match(grammar: Element, tokens: list[Token], line: str,
          is_secret: Callable[[Any], bool] = lambda command: False) -> Match:
    """Read `tokens` with `grammar`; the complete command or a ParseError IOS would print.

    `is_secret(command)` says whether a command carries a secret; in a refused line of such a
    command, what may be a key is masked in logs (`_mask_from`).
    """
    threads, _rest_taken = _walk(grammar, tokens, line, is_secret)
    for thread in threads:
        for term, _t in _expand(thread):
            if isinstance(term, Done):
                return Match(term.command, _args(thread.captures), frozenset(thread.secrets))
    raise ParseError("incomplete", line, secret_tokens=frozenset(s for t in threads for s in t.secrets))


def help_lines(grammar: Element, line: str, describe: Callable[[str], str] = lambda word: "") -> list[str]:
    """What IOS prints for `?` typed after `line`: the keywords completing a partial word
    (`sh?` -> `show`), or the next keywords and arguments with their help and `<cr>` when the
    command may end there (`show ?`); `% Unrecognized command` when the line so far is wrong.
    `describe(keyword)`: the help text of keywords that carry none."""
    tokens = tokenize(line)
    partial = bool(tokens) and not line[-1:].isspace()
    try:
        threads, rest_taken = _walk(grammar, tokens[:-1] if partial else tokens, line, lambda command: False)
    except ParseError:
        return ["% Unrecognized command"]
    terminals = [term for thread in threads for term, _t in _expand(thread)] if not rest_taken else []
    if partial:
        prefix = tokens[-1].text.lower()
        words = sorted({t.word for t in terminals if isinstance(t, Kw) and t.word.startswith(prefix)})
        return ["  ".join(words) + "  "] if words else ["% Unrecognized command"]
    entries: dict[str, str] = {}
    for term in terminals:
        if isinstance(term, Kw):
            entries.setdefault(term.word, term.help or describe(term.word))
        elif isinstance(term, Arg):
            entries.setdefault(term.type.placeholder, term.help)
    width = max((len(name) for name in entries), default=0)
    out = [f"  {name:<{width}}  {text}".rstrip() for name, text in sorted(entries.items())]
    if rest_taken or any(isinstance(t, Done) for t in terminals):
        out.append("  <cr>")
    return out or ["% Unrecognized command"]


def masked(line: str, tokens: list[Token], secret_tokens: frozenset[int], mask_from: int | None = None) -> str:
    """The line with secret tokens (and, for an unparsed secret-bearing line, the tail) replaced by `*****`."""
    out, last = [], 0
    for index, token in enumerate(tokens):
        hide = index in secret_tokens or (mask_from is not None and index >= mask_from)
        out.append(line[last:token.column] + ("*****" if hide else token.text))
        last = token.column + len(token.text)
    return "".join(out).strip()
