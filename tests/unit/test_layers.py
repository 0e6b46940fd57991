"""The agent's layers are as docs/architecture.md draws them: every import in agent/src/mipd, at
module level or inside a function, goes to a layer standing left of the importer on one of the
diagram's lines (or within its own layer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agent" / "src" / "mipd"
DOC = ROOT / "docs" / "architecture.md"


def diagram() -> list[list[str]]:
    """The layer lines of the document: indented lines of names joined by '<'."""
    lines = []
    for text in DOC.read_text().split("## The collection", 1)[0].splitlines():
        if text.startswith("    ") and "<" in text:
            lines.append([name.strip() for name in text.split("(", 1)[0].split("<")])
    return lines


def allowed() -> dict[str, set[str]]:
    """Layer -> the layers it may import: those left of it on any line that names it."""
    may: dict[str, set[str]] = {}
    for line in diagram():
        for i, name in enumerate(line):
            may.setdefault(name, set()).update(line[:i])
    return may


def layer_of(module: str) -> str | None:
    """`mipd.protocol.codes` -> protocol, `mipd.ipv4` -> ipv4; None for the package itself and
    anything outside mipd."""
    parts = module.split(".")
    if parts[0] != "mipd" or len(parts) == 1:
        return None
    return parts[1]


def imported(path: Path) -> set[str]:
    """Every mipd module `path` imports (a `from mipd import x` names module mipd.x)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mipd":
                names.update(f"mipd.{alias.name}" for alias in node.names if alias.name != "__version__")
            else:
                names.add(node.module)
    return {name for name in names if name.startswith("mipd.")}


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_the_diagram_names_every_layer_and_only_layers():
    layers = {layer_of("mipd." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in sources()}
    assert set(allowed()) == layers
    assert {"ipv4", "wire", "security", "protocol", "dataplane", "runtime", "cli", "simnet"} <= layers


def test_the_data_plane_is_a_peer_of_protocol():
    """What the document says in words, checked on the diagram itself."""
    may = allowed()
    assert not may["dataplane"] & {"wire", "security", "protocol"}
    assert "dataplane" not in may["protocol"] and {"dataplane", "protocol"} <= may["runtime"]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_import_goes_down_the_layers(path: Path):
    may = allowed()
    own = layer_of("mipd." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    wrong = sorted(name for name in imported(path) if layer_of(name) not in may[own] | {own})
    assert wrong == [], f"{own} may import only {sorted(may[own])}"


def test_the_check_sees_an_import_that_breaks_the_layers(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from mipd.protocol.actions import Log\n    from mipd import wire\n")
    assert imported(bad) == {"mipd.protocol.actions", "mipd.wire"}
    assert not {layer_of(name) for name in imported(bad)} <= allowed()["dataplane"]
