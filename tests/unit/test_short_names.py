"""The short-names ratchet (issue 14): no file of the agent or the plugins gains one- or two-character
names (scripts/short_names.py says which count); a file may lose them, and then the ratchet is lowered
with `scripts/short_names.py --update`."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("short_names", ROOT / "scripts" / "short_names.py")
assert _spec is not None and _spec.loader is not None
short_names = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(short_names)


def test_no_file_gains_short_names() -> None:
    ratchet = json.loads(short_names.RATCHET.read_text())
    grown = {f: (short, ratchet.get(f, 0)) for f, (short, _bound) in short_names.counts().items()
             if short > ratchet.get(f, 0)}
    assert not grown, ("short names added (file: (now, allowed)); name them for what they hold, "
                       f"see scripts/short_names.py --list FILE: {grown}")


def test_the_ratchet_names_only_files_that_exist() -> None:
    ratchet = json.loads(short_names.RATCHET.read_text())
    assert [f for f in ratchet if not (ROOT / f).is_file()] == []


def test_what_counts_as_a_short_name() -> None:
    code = """
import json as js
def f(a, session, *ps, at=0, **kw):
    x = [v for v in session]
    for i in range(3):
        pass
    try:
        pass
    except ValueError as e:
        pass
    with open(a) as fh:
        n: int = 0
    total = lambda t: t
    (y, z), ha = (1, 2), 3
"""
    binder = short_names._Binder()
    binder.visit(ast.parse(code))
    short = sorted(name for name, _line in binder.bound if short_names.is_short(name))
    assert short == ["a", "f", "fh", "js", "kw", "n", "ps", "t", "x", "y", "z"]
