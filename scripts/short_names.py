#!/usr/bin/env python3
"""Names that do not say what they hold: one- and two-character names bound in the agent and the plugins.

Counted: function, class and parameter names, assignment targets (plain, annotated, augmented,
walrus, unpacking), `with ... as`, `import ... as`, `global`/`nonlocal` names. Not counted: loop
counters (`for` targets), comprehension variables, exception names (`except ... as e`), names that
start with `_` (deliberately unused), and two-letter names that say what they hold (WORDS: `ha` a home
agent, `sa` a security association, `at` a time).

    scripts/short_names.py              # per file: short names and their share of the names bound
    scripts/short_names.py --list FILE  # each short name of FILE with its line
    scripts/short_names.py --update     # write the ratchet (tests/unit/short_names_ratchet.json)

tests/unit/test_short_names.py holds every file to its count in the ratchet: a file may lose
short names, never gain them, and a file that is not in the ratchet has none.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("agent/src/mipd", "plugins")
RATCHET = ROOT / "tests" / "unit" / "short_names_ratchet.json"
# two-letter names that say what they hold: the domain's (a home agent, a security association, ...)
# and English words (`at` a time, `lo`/`hi` bounds, `up` a link state)
WORDS = frozenset({"ha", "fa", "mn", "sa", "ip", "id", "ok", "rx", "tx", "ns", "db", "os", "io", "fd", "re",
                   "at", "lo", "hi", "up", "on", "to", "by", "of", "in", "no", "is", "or"})


def is_short(name: str) -> bool:
    return len(name) <= 2 and not name.startswith("_") and name not in WORDS


class _Binder(ast.NodeVisitor):
    """Every name a module binds, with its line, but for `for` and comprehension targets."""

    def __init__(self) -> None:
        self.bound: list[tuple[str, int]] = []
        self._skip: set[int] = set()  # ids of Name nodes that are loop or comprehension targets

    def _targets(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                self._skip.add(id(sub))

    def visit_For(self, node: ast.For) -> None:
        self._targets(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._targets(node.target)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store) and id(node) not in self._skip:
            self.bound.append((node.id, node.lineno))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.bound.append((node.name, node.lineno))
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg not in ("self", "cls"):
            self.bound.append((node.arg, node.lineno))

    def visit_alias(self, node: ast.alias) -> None:
        if node.asname:
            self.bound.append((node.asname, getattr(node, "lineno", 0)))

    def visit_Global(self, node: ast.Global) -> None:
        self.bound += [(name, node.lineno) for name in node.names]

    visit_Nonlocal = visit_Global


def bound_names(path: Path) -> list[tuple[str, int]]:
    binder = _Binder()
    binder.visit(ast.parse(path.read_text(), str(path)))
    return binder.bound


def files() -> Iterator[Path]:
    for tree in TREES:
        yield from sorted((ROOT / tree).rglob("*.py"))


def counts() -> dict[str, tuple[int, int]]:
    """{file relative to the repository: (short names, names bound)}."""
    out = {}
    for path in files():
        names = bound_names(path)
        out[str(path.relative_to(ROOT))] = (sum(1 for name, _line in names if is_short(name)), len(names))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", metavar="FILE", help="each short name of FILE with its line")
    parser.add_argument("--update", action="store_true", help=f"write {RATCHET.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.list:
        for name, line in bound_names(Path(args.list)):
            if is_short(name):
                print(f"{args.list}:{line}: {name}")
        return 0
    found = counts()
    if args.update:
        RATCHET.write_text(json.dumps({f: short for f, (short, _all) in found.items() if short}, indent=1,
                                      sort_keys=True) + "\n")
        return 0
    for tree in TREES:
        short = sum(s for f, (s, _n) in found.items() if f.startswith(tree))
        total = sum(n for f, (_s, n) in found.items() if f.startswith(tree))
        print(f"{tree}: {short} short names of {total} bound ({100 * short / max(total, 1):.1f}%)")
    worst = sorted(((s, f) for f, (s, _n) in found.items() if s), reverse=True)[:15]
    for short, name in worst:
        print(f"  {short:4d} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
