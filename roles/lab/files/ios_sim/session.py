"""One CLI session: the mode stack, prompts, and running one line the way IOS does.

- Prompts: `host>` (user EXEC), `host#` (privileged EXEC), `host(config)#` and the submodes'
  `host(config-if)#`, `host(config-router)#`, `host(mobile-router)#`, `host(config-std-nacl)#`.
- A line a configuration submode does not know is tried in global configuration mode; if it
  is valid there IOS leaves the submode and runs it (netmiko's `send_config_set` relies on it:
  `interface X`, ` ip address ...`, `router mobile` without `exit` in between).
- Errors are printed as IOS prints them (grammar.ParseError), the caret counted from the start of
  the prompt, and the command is logged with its result (cmdlog.py), secrets masked.
- `show` output can be filtered with `| include|exclude|begin|section REGEX` (pipes.py) and is
  paged with ` --More-- ` when `terminal length` is not 0 (IOS's default on a vty is 24).
- Leaving configuration mode (`end`, Ctrl-Z, `exit` from config) calls the router's hook that
  applies the Mobile IP configuration to the attached mipd (router.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ios_sim import helptext, pipes
from ios_sim.cli import CommandError, Context, Invocation, Mode, call
from ios_sim.config_store import Key, config_blocks
from ios_sim.grammar import Match, ParseError, Token, help_lines, masked, match, tokenize

if TYPE_CHECKING:
    from ios_sim.router import Router

CTRL_Z = "\x1a"


@dataclass(frozen=True)
class HelpRequest:
    """`?` typed after `text` (IOS answers at once, then shows the prompt and the line again)."""

    text: str


class Terminal(Protocol):
    """What a session reads from and writes to (terminal.py over SSH; a list in unit tests)."""

    newline: str

    def write(self, text: str) -> None: ...

    async def readline(self, echo: bool = True, initial: str = "") -> str | HelpRequest | None: ...

    async def readkey(self) -> str | None: ...


@dataclass
class Frame:
    """One level of the mode stack: the mode and where its lines go in the configuration tree."""

    mode: str
    path: tuple[Key, ...] = ()


class SessionClosed(Exception):
    """`exit`/`logout` in EXEC mode, or the client went away."""


class Session:
    """A vty session of `user` (privilege 1 or 15) on `router`."""

    def __init__(self, router: Router, terminal: Terminal, user: str, privilege: int, number: int,
                 log: bool = True) -> None:
        self.router = router
        self.terminal = terminal
        self.user = user
        self.number = number
        self.privilege = privilege
        self.stack = [Frame("exec" if privilege >= 15 else "user")]
        self.length = 24  # IOS's default terminal length on a vty
        self.width = 80
        self.log = log
        self.last_line = ""  # the last line run, secrets masked (for reports of refused lines)

    # ------------------------------------------------------------ modes and prompts

    @property
    def mode(self) -> Mode:
        return self.router.modes[self.stack[-1].mode]

    @property
    def path(self) -> tuple[Key, ...]:
        return self.stack[-1].path

    def prompt(self) -> str:
        return self.router.hostname + self.mode.prompt

    def enter(self, mode: str, path: tuple[Key, ...] = ()) -> None:
        """Enter a configuration submode (from config: replaces any submode, as IOS does)."""
        if self.router.modes[mode].parent is not None:
            del self.stack[2:]
        self.stack.append(Frame(mode, path))

    def set_privilege(self, level: int) -> None:
        self.privilege = level
        self.stack = [Frame("exec" if level >= 15 else "user")]

    async def leave_config(self) -> None:
        """Back to privileged EXEC (`end`, Ctrl-Z): then apply the configuration (router hook)."""
        if self.mode.configuration:
            del self.stack[1:]
            await self.router.config_exited(self)

    async def exit_mode(self) -> None:
        """`exit`: one level up; from global configuration back to EXEC."""
        if self.stack[-1].mode == "config":
            await self.leave_config()
        elif self.mode.configuration:
            self.stack.pop()
        else:
            raise SessionClosed

    # ------------------------------------------------------------ running lines

    async def run(self) -> None:
        """Prompt, read, run, until the client leaves or types `exit` in EXEC mode (a session that
        ends in configuration mode has its changes applied: IOS applies each line as it is typed;
        not when the router is stopping: the task is cancelled then)."""
        await self._loop()
        await self.leave_config()

    async def _loop(self) -> None:
        self.terminal.write(self.terminal.newline + self.prompt())
        pending = ""
        while True:
            line = await self.terminal.readline(initial=pending)
            pending = ""
            if line is None:
                return
            if isinstance(line, HelpRequest):
                await self.output([*self.help(line.text), ""])
                self.terminal.write(self.prompt() + line.text)
                pending = line.text
                continue
            try:
                if line == CTRL_Z:
                    await self.leave_config()
                else:
                    await self.execute(line)
            except SessionClosed:
                return
            self.terminal.write(self.prompt())

    async def execute(self, line: str, mode: str | None = None, indent: int = 0) -> bool:
        """Run one line in the current mode (or in `mode`: `do` runs EXEC commands); False when
        the device refused it. `indent`: columns before the line (the caret counts them too)."""
        tokens = tokenize(line)
        if not tokens:
            return True
        mode_name, prompt_width = mode or self.mode.name, len(self.prompt()) + indent
        exec_mode = not self.router.modes[mode_name].configuration  # pipes filter EXEC output only
        pipe_at = next((i for i, t in enumerate(tokens) if t.text == "|"), None) if exec_mode else None
        command_tokens = tokens if pipe_at is None else tokens[:pipe_at]
        try:
            if not exec_mode and any(r.fullmatch(line.strip()) for r in self.router.options.refuse):
                raise ParseError("invalid", line, tokens[0].column)  # --refuse: a release without this line
            found, matched_mode = self._match(line, command_tokens, self.router.modes[mode_name])
            invocation: Invocation = found.command
            filters = self._filters(line, tokens, pipe_at, invocation)
        except ParseError as error:
            self._record(mode_name, masked(line, tokens, error.secret_tokens, error.mask_from), error.message)
            await self.output(error.render(prompt_width))
            return False
        if matched_mode is not self.mode and mode is None:
            del self.stack[2:]  # a global command typed in a submode leaves the submode
        ctx = Context(self, found.args, invocation.negate, line)
        result = "ok"
        ignored = not exec_mode and any(r.fullmatch(line.strip()) for r in self.router.options.ignore)
        try:
            if not ignored:  # --ignore: accepted, not kept
                await call(invocation.command.handler, ctx)
            if filters is not None:
                ctx.out = pipes.apply(filters, ctx.out)
        except CommandError as refused:
            ctx.out.extend(refused.lines)
            result = refused.lines[0] if refused.lines else "error"
        finally:
            self._record(mode_name, masked(line, tokens, found.secret_tokens), result)
        await self.output(ctx.out)
        return result == "ok"

    def _match(self, line: str, tokens: list[Token], mode: Mode) -> tuple[Match, Mode]:
        """The command in `mode`, else (in a configuration submode) in global configuration."""
        try:
            return match(mode.grammar, tokens, line, _is_secret), mode
        except ParseError as first:
            if mode.parent is None:
                raise
            parent = self.router.modes[mode.parent]
            try:
                return match(parent.grammar, tokens, line, _is_secret), parent
            except ParseError as second:
                raise max(first, second, key=_how_far) from None

    def _filters(self, line: str, tokens: list[Token], pipe_at: int | None,
                 invocation: Invocation) -> Match | None:
        if pipe_at is None:
            return None
        if not invocation.command.pipes:
            raise ParseError("invalid", line, tokens[pipe_at].column)
        grammar = pipes.grammar(self.router.options.pipe_section)
        return match(grammar, tokens[pipe_at + 1:], line)

    def help(self, text: str) -> list[str]:
        """IOS's answer to `?` after `text` in this mode (after `|`: the output filters)."""
        tokens = tokenize(text)
        pipe_at = next((t.column for t in tokens if t.text == "|"), None)
        if pipe_at is not None:
            grammar, text = pipes.grammar(self.router.options.pipe_section), text[pipe_at + 1:].lstrip()
        else:
            grammar = self.mode.grammar
        return help_lines(grammar, text, lambda word: helptext.KEYWORDS.get(word, ""))

    def _record(self, mode: str, command: str, result: str) -> None:
        self.last_line = command
        if self.log:
            self.router.cmdlog.record(self.number, self.user, mode, command, result)

    async def output(self, lines: list[str]) -> None:
        """Write output lines, paged with ` --More-- ` past `terminal length` (0: no paging)."""
        newline = self.terminal.newline
        page = self.length - 1 if self.length > 0 else len(lines)
        shown = 0
        while lines:
            self.terminal.write("".join(text + newline for text in lines[:page - shown]))
            lines = lines[page - shown:]
            if not lines:
                return
            self.terminal.write(" --More-- ")
            key = await self.terminal.readkey()
            self.terminal.write("\b" * 10 + " " * 10 + "\b" * 10)
            if key is None or key not in " \r\n":
                return
            shown = page - 1 if key in "\r\n" else 0

    # ------------------------------------------------------------ dialogues

    async def ask(self, prompt: str, echo: bool = True) -> str | None:
        """A question on the terminal (`Password: ` with echo off, `Destination filename [...]? `)."""
        self.terminal.write(prompt)
        answer = await self.terminal.readline(echo=echo)
        return answer if isinstance(answer, str) and answer != CTRL_Z else None

    async def load(self, text: str) -> list[str]:
        """Run configuration text as IOS reads a startup-config (blocks, `!` comments); the refused
        lines, secrets masked."""
        errors: list[str] = []
        for top, children in config_blocks(text):
            self.stack = [Frame("exec"), Frame("config")]
            for line in (top, *children):
                if not await self.execute(line):
                    errors.append(self.last_line)
        self.stack = [Frame("exec")]
        return errors


def _is_secret(invocation: object) -> bool:
    return isinstance(invocation, Invocation) and invocation.command.secret


def _how_far(error: ParseError) -> int:
    """How far into the line a parse got (the error IOS reports is the one of the mode that got furthest)."""
    return error.column if error.kind == "invalid" else len(error.line) + 1
