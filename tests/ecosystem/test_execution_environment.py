"""Execution environment metadata: meta/execution-environment.yml, requirements.txt and bindep.txt.

- every Python import of the controller side (scanned from the tree at test time, so new code is
  checked too) is the standard library, ansible-core, this collection, or a package listed in
  requirements.txt; and every package listed there is imported;
- ansible-builder turns the example definition (docs/ee/) into a build context, and the context's
  own introspection, run over the built collection installed as the image build installs it, lists
  the collection's Python and system dependencies;
- bindep.txt, read by bindep itself, names the Debian packages ./mip setup installs, and gives an
  execution environment only the ssh client.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends
from ecosystem_support import ROOT, tool
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The code that runs on the controller: the plugins (modules and module_utils too: they run there for
# IOS-like routers) and the agent role's wheel builder. roles/lab/files/ios_sim is the lab's router
# simulator, which needs asyncssh and mipd next to it: the lab's, not an execution environment's.
CONTROLLER_SOURCES = ("plugins", "roles/agent/files")
SELF = "ansible_collections.netmobility.mobileip"


@dataclass(frozen=True)
class Import:
    module: str
    where: str  # path:line


def imports_of(top: Path, sources: tuple[str, ...]) -> list[Import]:
    """Every absolute import in the .py files under `sources` (inside functions and try blocks too)."""
    found = []
    for source in sources:
        for path in sorted((top / source).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    else []
                )
                found += [Import(name, f"{path.relative_to(top)}:{node.lineno}") for name in names]
    return found


def requirement_names(path: Path) -> set[str]:
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in path.read_text().splitlines())
    return {canonicalize_name(Requirement(line).name) for line in lines if line and not line.startswith("#")}


def uncovered(found: list[Import], listed: set[str], dependencies: set[str]) -> list[str]:
    """The imports that neither the standard library, ansible-core, this collection, the collections in
    `dependencies`, nor a distribution in `listed` provide, each with where it is and why."""
    distributions = importlib.metadata.packages_distributions()
    out = []
    for imp in found:
        top = imp.module.split(".")[0]
        if top in sys.stdlib_module_names or top == "ansible":
            continue
        if top == "ansible_collections":
            collection = ".".join(imp.module.split(".")[1:3])
            if imp.module.startswith(SELF) or collection in dependencies:
                continue
            out.append(f"{imp.where}: {imp.module} (collection {collection} is not a dependency in galaxy.yml)")
            continue
        names = {canonicalize_name(d) for d in distributions.get(top, [])}
        if not names:
            out.append(f"{imp.where}: {imp.module} (not installed here, not in requirements.txt)")
        elif not names & listed:
            out.append(f"{imp.where}: {imp.module} (distribution {', '.join(sorted(names))} not in requirements.txt)")
    return out


def galaxy_dependencies() -> set[str]:
    return set(yaml.safe_load((ROOT / "galaxy.yml").read_text()).get("dependencies") or {})


def test_ee_metadata_points_at_requirements_and_bindep():
    """meta/execution-environment.yml (version 1) names requirements.txt and bindep.txt, both present."""
    meta = yaml.safe_load((ROOT / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    for name in meta["dependencies"].values():
        assert (ROOT / name).is_file(), name


def test_every_controller_import_is_covered_by_requirements_txt():
    """Each import of the controller-side code is stdlib, ansible-core, this collection or requirements.txt's;
    netmiko and textfsm (the IOS transport and parsers) are found as imports, so the scan sees lazy imports."""
    found = imports_of(ROOT, CONTROLLER_SOURCES)
    assert {"netmiko", "textfsm", "yaml"} <= {i.module.split(".")[0] for i in found}
    assert uncovered(found, requirement_names(ROOT / "requirements.txt"), galaxy_dependencies()) == []


def test_every_requirement_is_imported():
    """No stale entry: every package of requirements.txt is imported by the controller-side code."""
    distributions = importlib.metadata.packages_distributions()
    imported = {
        canonicalize_name(d)
        for i in imports_of(ROOT, CONTROLLER_SOURCES)
        for d in distributions.get(i.module.split(".")[0], [])
    }
    assert requirement_names(ROOT / "requirements.txt") - imported == set()


def test_an_unlisted_import_is_reported(tmp_path):
    """The scan reports what requirements.txt misses: a third-party import inside a function, one that is not
    installed at all, and another collection's module_utils; stdlib and the collection itself pass."""
    plugin = tmp_path / "plugins" / "action" / "new.py"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(
        "from __future__ import annotations\nimport json\n"
        "from ansible_collections.netmobility.mobileip.plugins.module_utils import model\n"
        "from ansible.plugins.action import ActionBase\n"
        "def run():\n    import hypothesis.strategies\n    import not_a_real_package_xyz\n"
        "    from ansible_collections.ansible.netcommon.plugins.module_utils import x\n"
    )
    problems = uncovered(imports_of(tmp_path, ("plugins",)), {"netmiko", "textfsm", "pyyaml"}, set())
    assert [p.split(" ")[0] for p in problems] == [
        "plugins/action/new.py:6:",
        "plugins/action/new.py:7:",
        "plugins/action/new.py:8:",
    ], problems
    assert "hypothesis" in problems[0] and "ansible.netcommon" in problems[2]
    assert uncovered(imports_of(tmp_path, ("plugins",)), {"hypothesis"}, {"ansible.netcommon"}) == [problems[1]]


@functools.cache
def _depends() -> Depends:
    """bindep.txt parsed by bindep (its grammar takes seconds to build: once per session)."""
    return Depends((ROOT / "bindep.txt").read_text())


def _bindep(profiles: list[str]) -> set[str]:
    depends = _depends()
    return {rule[0] for rule in depends.active_rules(profiles)}


def test_bindep_profiles():
    """An execution environment (bindep's default profile, as ansible-builder runs it) gets only the ssh
    client, on a Debian or a Red Hat image; the lab's and the tests' packages are in their profiles."""
    assert _bindep(["default", "platform:dpkg", "platform:debian"]) == {"openssh-client"}
    assert _bindep(["default", "platform:rpm", "platform:redhat"]) == {"openssh-clients"}
    lab = _bindep(["lab", "platform:dpkg", "platform:debian"])
    assert {"iproute2", "openssh-server", "python3-venv", "python3-yaml"} <= lab and "tshark" not in lab
    assert {"tshark", "freeradius", "iperf3"} <= _bindep(["test", "platform:dpkg", "platform:debian"])


def test_mip_setup_installs_what_bindep_txt_names():
    """./mip setup's Debian package list (its own reading of bindep.txt) is bindep's answer for this
    machine's platform with every profile."""
    script = (ROOT / "mip").read_text()
    function = re.search(r"^debian_packages\(\) \{.*?^\}", script, re.M | re.S)
    assert function, "no debian_packages() in ./mip"
    proc = subprocess.run(
        ["bash", "-c", f"{function.group(0)}\ndebian_packages"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    depends = _depends()
    if "platform:dpkg" not in depends.platform_profiles():
        pytest.skip("not a Debian machine")
    assert set(proc.stdout.split()) == _bindep([*depends.platform_profiles(), "default", "lab", "test"])


@pytest.mark.ansible
def test_ansible_builder_context_lists_the_collection_dependencies(tmp_path, installed_collection):
    """`ansible-builder create` on docs/ee/ writes a build context (no container engine needed) that
    installs the collection from requirements.yml and introspects it; that context's own introspect.py,
    run over the built collection installed as the image build installs it, lists requirements.txt's
    packages (less PyYAML, which every image has) and bindep.txt's lines, each from netmobility.mobileip."""
    for name in ("execution-environment.yml", "requirements.yml"):
        shutil.copy(ROOT / "docs" / "ee" / name, tmp_path / name)
    context = tmp_path / "context"
    proc = tool("ansible-builder", "create", "-f", "execution-environment.yml", "-c", str(context), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert "netmobility.mobileip" in [c["name"] for c in galaxy["collections"]]

    proc = subprocess.run(
        [
            sys.executable,
            str(context / "_build" / "scripts" / "introspect.py"),
            "introspect",
            str(installed_collection),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    listed = yaml.safe_load(proc.stdout)
    assert listed["python"] == [
        f"{line}  # from collection netmobility.mobileip"
        for line in _lines("requirements.txt")
        if not line.startswith("PyYAML")
    ]
    assert listed["system"] == [f"{line}  # from collection netmobility.mobileip" for line in _lines("bindep.txt")]


def _lines(name: str) -> list[str]:
    """A requirements or bindep file's entries as introspection keeps them (comments dropped)."""
    out = (re.sub(r"\s+#.*$", "", line).strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in out if line and not line.startswith("#")]


def test_ci_recipe_names_the_lab_packages_bindep_gives():
    """docs/ci.md's Debian package list for a CI runner is bindep.txt's default and lab profiles on Debian."""
    text = re.sub(r"\s+", " ", (ROOT / "docs" / "ci.md").read_text())
    listed = re.search(r"on Debian: `([^`]+)`", text)
    assert listed, "docs/ci.md names no Debian packages"
    assert set(listed.group(1).split()) == _bindep(["default", "lab", "platform:dpkg", "platform:debian"])
