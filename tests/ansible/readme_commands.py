"""The shell commands the README files show, as written (imported by test_readme_commands.py).

A command is a line of an indented code block in README.md, or of a fenced ``sh``/``bash``/``shell``
block in README.md, the roles' READMEs and the inventories' READMEs (YAML and unlabelled fences
are playbooks, diagrams and file listings, not commands). A trailing `\\` joins the next line; a
comment after two spaces and `#` is dropped; lines of comment only are not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import labenv

ROOT = labenv.ROOT
SHELL_FENCES = ("sh", "bash", "shell", "console")
FIRST_WORDS = re.compile(r"^(\./mip|ansible|ansible-\w+|mipd|mipctl|\.venv/|scripts/|mkdir|ln|export|python)\b")


@dataclass(frozen=True)
class Command:
    """One command: its text (continuations joined, comment dropped) and where it is written."""

    text: str
    source: str  # path:line

    @property
    def words(self) -> list[str]:
        return self.text.split()


def documents() -> list[Path]:
    """The README files whose commands are checked."""
    return [ROOT / "README.md", *sorted(ROOT.glob("roles/*/README.md")), *sorted(ROOT.glob("inventories/*/README.md"))]


def _strip_comment(line: str) -> str:
    return re.split(r"\s{2,}#|^\s*#", line, maxsplit=1)[0].rstrip()


def _commands_of(lines: list[tuple[int, str]], source: str) -> list[Command]:
    out: list[Command] = []
    pending = ""
    first = 0
    for number, raw in lines:
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if not pending:
            first = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if FIRST_WORDS.match(text):
            out.append(Command(re.sub(r"\s+", " ", text), f"{source}:{first}"))
    return out


def commands(path: Path) -> list[Command]:
    """The commands of one Markdown file."""
    source = str(path.relative_to(ROOT))
    blocks: list[list[tuple[int, str]]] = []
    fence: str | None = None
    fenced: list[tuple[int, str]] = []
    indented: list[tuple[int, str]] = []
    previous = ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            if fence is None:
                fence, fenced = line[3:].strip(), []
            else:
                if fence in SHELL_FENCES:
                    blocks.append(fenced)
                fence = None
        elif fence is not None:
            fenced.append((number, line))
        elif line.startswith("    ") and (indented and indented[-1][0] == number - 1 or not previous.strip()):
            if not indented or indented[-1][0] != number - 1:
                indented = []
                blocks.append(indented)
            indented.append((number, line))
        previous = line
    return [command for block in blocks for command in _commands_of(block, source)]


def every_command() -> list[Command]:
    return [command for path in documents() for command in commands(path)]
