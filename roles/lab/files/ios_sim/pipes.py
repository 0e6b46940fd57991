"""Output filters after `|` on show commands, with regular-expression meaning as in IOS.

- `include REGEX` / `exclude REGEX`: lines that match / do not match (re.search, case-sensitive);
- `begin REGEX`: from the first matching line on;
- `section REGEX`: each top-level line whose block (the line and its indented lines) has a match,
  printed with its whole block; IOS 12.2 (the Mobile IP era) has no `section`: the router's
  `--no-pipe-section` removes the keyword, so `| section` is invalid input as on 12.2;
- `count REGEX`: `Number of lines which match regexp = N`.

The regular expression is the rest of the line after the keyword (blanks and `|` included), as IOS
reads it: `show running-config | include ^router mobile|^ip mobile` is one alternation.
"""

from __future__ import annotations

import re
from functools import cache

from ios_sim.cli import CommandError
from ios_sim.grammar import Arg, Done, Element, Line, Match, alt, seq

_REGEX = Arg("regex", Line(), "Regular Expression")


@cache
def grammar(section: bool) -> Element:
    kinds = ["begin", "count", "exclude", "include"] + (["section"] if section else [])
    return alt(*(seq(kind, _REGEX, Done(kind)) for kind in kinds))


def apply(filters: Match, lines: list[str]) -> list[str]:
    """The lines the filter keeps (the output was built in full first, as IOS buffers it)."""
    args = filters.args
    try:
        regex = re.compile(args["regex"])
    except re.error as error:
        raise CommandError(f"% Invalid regular expression: {error}") from None
    if "include" in args:
        return [line for line in lines if regex.search(line)]
    if "exclude" in args:
        return [line for line in lines if not regex.search(line)]
    if "begin" in args:
        for index, line in enumerate(lines):
            if regex.search(line):
                return lines[index:]
        return []
    if "count" in args:
        return [f"Number of lines which match regexp = {sum(1 for line in lines if regex.search(line))}"]
    return _sections(regex, lines)


def _sections(regex: re.Pattern[str], lines: list[str]) -> list[str]:
    out: list[str] = []
    block: list[str] = []
    for line in [*lines, ""]:
        if line.startswith(" ") and block:
            block.append(line)
            continue
        if block and any(regex.search(b) for b in block):
            out.extend(block)
        block = [line] if line else []
    return out
