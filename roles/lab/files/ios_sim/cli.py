"""Commands and modes: what the tables are made of, and the factories most commands share.

A `Command` is a grammar (grammar.py) plus a handler; its `no` form is another grammar (often a
prefix of the first: `no ip mobile host 10.0.0.1`) that calls the same handler with `negate`.
A `Mode` is a prompt and a list of commands; its grammar is built once from the table, so the
keyword abbreviations, error carets and `no` forms of every mode come from the same matcher.

Most configuration commands only set or remove one line of the running configuration: they are
made by `config_line`, which needs the line's identity (key), its IOS text and its place in the
IOS order (rank, group).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ios_sim.config_store import ConfigTree, Key
from ios_sim.grammar import Done, Element, Kw, Seq, alt, contains_secret

if TYPE_CHECKING:
    from ios_sim.session import Session

Handler = Callable[["Context"], Awaitable[None] | None]


class CommandError(Exception):
    """A command IOS accepts syntactically but refuses (`Bad mask ...`, `% No password set`)."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = list(lines)


@dataclass(frozen=True, eq=False)
class Command:
    """One command of a mode: its grammar, its `no` grammar (None: none), and what it does."""

    syntax: Element
    handler: Handler
    no: Element | None = None
    pipes: bool = False  # output may be filtered (`show ... | include REGEX`)

    @cached_property
    def secret(self) -> bool:
        """Whether a line of this command can carry a key (then its log line is masked)."""
        return contains_secret(self.syntax) or (self.no is not None and contains_secret(self.no))


@dataclass(frozen=True)
class Invocation:
    command: Command
    negate: bool


@dataclass(eq=False)
class Mode:
    """A CLI mode: `name` (config-if, ...), prompt suffix, commands, parent (config submodes: config)."""

    name: str
    prompt: str
    commands: list[Command]
    parent: str | None = None
    configuration: bool = False

    @cached_property
    def grammar(self) -> Element:
        """All commands of the mode, and `no` followed by every command that has a `no` form."""
        options: list[Element] = [Seq((c.syntax, Done(Invocation(c, False)))) for c in self.commands]
        negatable = [Seq((c.no, Done(Invocation(c, True)))) for c in self.commands if c.no is not None]
        if negatable:
            options.append(Seq((Kw("no"), alt(*negatable))))
        return alt(*options)


@dataclass
class Context:
    """What a handler sees: the session, the parsed arguments, `no` or not, and its output lines."""

    session: Session
    args: dict[str, Any]
    negate: bool = False
    line: str = ""  # the line as typed
    out: list[str] = field(default_factory=list)

    @property
    def config(self) -> ConfigTree:
        return self.session.router.config

    @property
    def path(self) -> tuple[Key, ...]:
        """Where the current mode's lines go in the configuration tree (interface block, ...)."""
        return self.session.path

    def print(self, *lines: str) -> None:
        self.out.extend(lines)


async def call(handler: Handler, ctx: Context) -> None:
    result = handler(ctx)
    if inspect.isawaitable(result):
        await result


def config_line(key: Callable[[dict[str, Any]], Key], text: Callable[[dict[str, Any]], str], rank: int,
                group: str = "", *, no_key: Callable[[dict[str, Any]], Key] | None = None,
                sort: Callable[[dict[str, Any]], tuple[Any, ...]] | None = None) -> Handler:
    """A handler setting one line (`key` -> `text`) in the current block, or removing it on `no`.

    `no_key` gives the key prefix the `no` form removes (default: `key`), as IOS removes
    `ip mobile secure host A` with every SPI of A, and a single SPI when it is given.
    """

    def handler(ctx: Context) -> None:
        if ctx.negate:
            ctx.config.remove(ctx.path, (no_key or key)(ctx.args))
        else:
            ctx.config.set(ctx.path, key(ctx.args), text(ctx.args), rank, group=group,
                           sort=sort(ctx.args) if sort else None)

    return handler


def flag_line(text: str, rank: int, group: str = "") -> Handler:
    """A line without arguments that is there or not (`shutdown`, `ip mobile prefix-length`)."""
    return config_line(lambda _a: (text,), lambda _a: text, rank, group)


def words(args: dict[str, Any], *pairs: tuple[str, str | None]) -> str:
    """IOS option text from args: ("broadcast", None) -> "broadcast" if set; ("lifetime", "lifetime") ->
    "lifetime N" if given; ("aaa", "") -> the value alone. In the order listed (the order IOS prints them in)."""
    out: list[str] = []
    for name, keyword in pairs:
        value = args.get(name)
        if value is None or value is False:
            continue
        out.append(name if keyword is None else f"{keyword} {value}".strip())
    return " ".join(out)
