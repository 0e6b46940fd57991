"""ansible-lint over the collection (roles, playbooks, inventories, changelogs) in the production
profile, with the project's .ansible-lint: file kinds for what ansible-lint cannot tell from a path
(changelog fragments, the demo's task files, the inventories), no skip list, no noqa. It finds the
collection through ansible.cfg's collections_path (./mip setup links this checkout under
build/collections) and runs offline: as root it runs in a network namespace of its own with no link up
(unshare --net), so any try to reach Galaxy fails the test. About a minute: marker sanity."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import mobileip_helpers as h
import pytest
import yaml

pytestmark = pytest.mark.sanity

LINT = h.VENV_BIN / "ansible-lint"
CONFIG = h.ROOT / ".ansible-lint"
ANSIBLE_CONTENT = ("roles", "playbooks", "inventories", "changelogs", "tests/ansible")
NO_RULE_SILENCING = ("skip_list", "warn_list", "mock_modules", "mock_roles")
IGNORE_FILES = (".ansible-lint-ignore", ".config/ansible-lint-ignore.txt")


def lint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """ansible-lint as CI runs it: the project venv first on PATH, ansible.cfg's settings (no ANSIBLE_*
    from the caller's environment), offline, without the network where a namespace can be made."""
    if not LINT.exists():
        pytest.skip("ansible-lint is not installed in the project venv (./mip setup)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = os.pathsep.join([str(h.VENV_BIN), env.get("PATH", "")])
    argv = [str(LINT), "--offline", "--nocolor", "-f", "pep8", *args]
    if os.geteuid() == 0 and shutil.which("unshare"):
        argv = ["unshare", "--net", "--", *argv]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_lint_config_silences_no_rule():
    """Production profile, offline, none of the rule-silencing settings, no Ansible content among the
    excluded paths; no noqa comment and no .ansible-lint-ignore file anywhere in the Ansible content."""
    config = yaml.safe_load(CONFIG.read_text())
    assert config["profile"] == "production" and config["offline"] is True
    assert not set(NO_RULE_SILENCING) & set(config), config
    excluded = [path.rstrip("/") for path in config.get("exclude_paths", [])]
    covering = [
        path
        for path in excluded
        for top in ANSIBLE_CONTENT
        if f"{path}/".startswith(f"{top}/") or f"{top}/".startswith(f"{path}/")
    ]
    assert covering == [], excluded  # data only, never Ansible content or a folder holding it
    assert not [path for path in IGNORE_FILES if (h.ROOT / path).exists()]
    noqa = [
        f"{path.relative_to(h.ROOT)}:{number}"
        for top in ANSIBLE_CONTENT
        for path in sorted((h.ROOT / top).rglob("*.y*ml"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"#\s*noqa", line)
    ]
    assert noqa == []


def test_collection_passes_the_production_profile():
    link = h.ROOT / "build" / "collections" / "ansible_collections" / "netmobility" / "mobileip"
    assert link.resolve() == h.ROOT.resolve(), f"{link} must lead to this checkout (./mip setup makes it)"
    result = lint("--profile", "production", cwd=h.ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "Profile 'production' was required, and it passed" in output
    processed = re.search(r"in (\d+) files processed", output)
    assert processed and int(processed.group(1)) > 100, output[-2000:]  # the whole collection, not a corner


def test_the_config_finds_a_task_that_should_be_a_handler(tmp_path):
    """The same configuration on a small project: a task run on change fails the production profile,
    while a changelog fragment whose name says playbook is read as plain YAML, not as a playbook."""
    tasks = tmp_path / "roles" / "sample" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "---\n"
        "- name: Run a command\n  ansible.builtin.command: 'true'\n  register: sample_result\n  changed_when: true\n\n"
        "- name: Say that it changed\n  ansible.builtin.debug:\n    msg: changed\n  when: sample_result is changed\n"
    )
    fragments = tmp_path / "changelogs" / "fragments"
    fragments.mkdir(parents=True)
    (fragments / "issue-1-playbooks.yaml").write_text("---\nminor_changes:\n  - The playbooks changed.\n")
    result = lint("-c", str(CONFIG), "--project-dir", str(tmp_path), cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(r"roles/sample/tasks/main\.yml:\d+:\d+: no-handler", output), output[-3000:]
    assert "issue-1-playbooks.yaml" not in output
