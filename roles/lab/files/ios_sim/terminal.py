"""The vty line discipline over an SSH channel: echo, editing keys, Ctrl-Z, hidden passwords.

IOS echoes what is typed character by character (netmiko and network_cli read each command's echo
before its output), takes Enter as CR, LF or CR LF (netmiko sends LF, network_cli CR), erases
with Backspace/Delete, kills the line with Ctrl-U, prints `^Z` and leaves configuration mode on
Ctrl-Z, answers `?` at once with help (so a `?` in a regular expression needs Ctrl-V first on
IOS; here it cannot be typed at all), and does not echo what is typed at a `Password:` prompt.
Type-ahead is kept: a client that writes several lines at once sees each echoed after the
previous command's output, as on IOS.
Output lines end with `newline` (LF by default: network_cli shows CR LF as blank lines).
"""

from __future__ import annotations

import asyncssh

from ios_sim.session import CTRL_Z, HelpRequest

BACKSPACE, DELETE, CTRL_C, CTRL_U, ESCAPE = "\x08", "\x7f", "\x03", "\x15", "\x1b"
MAX_LINE = 4096  # characters kept of one line; more are dropped (a client cannot grow the router's memory)


class SshTerminal:
    """Reads characters from an asyncssh server process (line editor off) and writes to it."""

    def __init__(self, process: asyncssh.SSHServerProcess[str], newline: str = "\n") -> None:
        self.process = process
        self.newline = newline
        self._pending = ""
        self._after_cr = False  # a LF right after a CR is the same Enter
        self._closed = False
        self._echo: list[str] = []  # echo of the characters of one read, sent as one SSH packet

    def write(self, text: str) -> None:
        self._echo.append(text)
        self._flush()

    def _flush(self) -> None:
        if self._echo and not self._closed:
            try:
                self.process.stdout.write("".join(self._echo))
            except (BrokenPipeError, ConnectionError, asyncssh.Error):
                self._closed = True
        self._echo.clear()

    def _echo_char(self, text: str) -> None:
        """Echo, held until the characters already received are handled (as IOS, in order)."""
        self._echo.append(text)

    async def _char(self) -> str | None:
        while not self._pending:
            self._flush()
            if self._closed:
                return None
            try:
                data = await self.process.stdin.read(4096)
            except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue
            except (asyncssh.Error, ConnectionError):
                data = ""
            if not data:
                self._closed = True
                return None
            self._pending = data
        char, self._pending = self._pending[0], self._pending[1:]
        return char

    async def readkey(self) -> str | None:
        """One key (the answer to ` --More-- `)."""
        return await self._char()

    async def readline(self, echo: bool = True, initial: str = "") -> str | HelpRequest | None:
        """A line as typed (editing applied), CTRL_Z for Ctrl-Z, a HelpRequest for `?` (the line so far;
        the session answers and calls again with it as `initial`), None when the client has gone."""
        line: list[str] = list(initial)
        while True:
            char = await self._char()
            if char is None:
                return None
            after_cr, self._after_cr = self._after_cr, char == "\r"
            if char == "\n" and after_cr:
                continue
            if char in "\r\n":
                # after a hidden answer (the enable secret) the newline goes out with the reply, as one write:
                # network_cli reads "Password: " + newline alone as the question asked again
                (self.write if echo else self._echo_char)(self.newline)
                return "".join(line)
            if char in (CTRL_Z, CTRL_C):
                self.write("^Z" + self.newline)
                return CTRL_Z
            if char == "?" and echo:
                self.write("?" + self.newline)
                return HelpRequest("".join(line))
            if char in (BACKSPACE, DELETE):
                if line:
                    line.pop()
                    if echo:
                        self._echo_char("\b \b")
            elif char == CTRL_U:
                if echo:
                    self._echo_char("\b \b" * len(line))
                line.clear()
            elif char == ESCAPE:
                await self._skip_escape()
            elif (char >= " " or char == "\t") and len(line) < MAX_LINE:
                line.append(" " if char == "\t" else char)
                if echo:
                    self._echo_char(char)

    async def _skip_escape(self) -> None:
        """Drop an ANSI escape sequence (arrow keys: ESC [ A); IOS's history keys are not offered."""
        if await self._char() not in ("[", "O"):
            return
        char = await self._char()
        while char is not None and not "@" <= char <= "~":
            char = await self._char()
