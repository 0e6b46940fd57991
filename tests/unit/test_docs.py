"""The project's own architecture document names only paths that exist (docs/architecture.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
# a backticked word with a slash, or a file name with an extension, as the document writes paths
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:py|md|yml|yaml))`")


def named_paths() -> list[str]:
    return sorted(set(PATH.findall(DOC.read_text())))


def test_every_path_the_architecture_document_names_exists():
    names = named_paths()
    assert len(names) >= 20, names  # the pattern still finds what the document names
    bases = [ROOT, ROOT / "agent" / "src" / "mipd", ROOT / "plugins" / "module_utils"]
    homes = ("agent", "plugins", "playbooks", "roles", "tests")  # where a bare file name ("store.py") may live
    missing = [n for n in names if not any((b / n).exists() for b in bases)
               and ("/" in n or not any(next((ROOT / h).rglob(n), None) for h in homes))]
    assert missing == []


def test_the_agent_docstrings_point_at_the_document():
    for path in ("agent/src/mipd/__init__.py", "agent/src/mipd/runtime/__init__.py", "agent/src/mipd/cli/__init__.py",
                 "agent/src/mipd/protocol/actions.py"):
        text = (ROOT / path).read_text()
        assert "docs/architecture.md" in text and "DESIGN" not in text, path
