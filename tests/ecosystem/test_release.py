"""Release tooling: changelog fragments, release notes, and the collection's artifact.

- `antsibull-changelog lint` passes on changelogs/ and refuses a bad fragment;
- `antsibull-changelog release` (on a copy of the checkout: a release is cut by a maintainer, see
  docs/releasing.md) makes release notes for 1.0.0 from every fragment, with the modules, plugins,
  roles and playbooks; a later release takes only the fragments added since;
- `ansible-galaxy collection build`: the artifact leaves out the tests' and developers' files and
  keeps what the content reads at run time; installed into a collections path of its own (the only
  one Ansible is given), `ansible-doc` documents every module, plugin and role from there, the
  playbooks load by their FQCN, and the agent's wheel builds from the installed agent/.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from ecosystem_support import ROOT, copy_for_release, tool

pytestmark = pytest.mark.ansible

# What the artifact leaves out (galaxy.yml's build_ignore), as path prefixes of tracked files.
DEVELOPER_FILES = (
    "tests/",
    "benchmarks/",
    ".ci/",
    "mip",
    "requirements-dev.txt",
    "pytest.ini",
    "ruff.toml",
    "ansible.cfg",
    ".gitignore",
    "changelogs/fragments/",
    "scripts/ansible-test.sh",
    "scripts/network_collections.py",
    "scripts/demo.py",
)
# What the content reads at run time, and the metadata an execution environment or Galaxy reads.
RUNTIME_FILES = (
    "agent/pyproject.toml",
    "agent/src/mipd/__init__.py",
    "agent/src/mipd/runtime/radius.dictionary",
    "roles/agent/files/mipd_wheel.py",
    "roles/lab/files/lab-sshd.sh",
    "roles/lab/files/lab-ios.sh",
    "roles/lab/files/ios_sim/__main__.py",
    "scripts/stream.py",
    "scripts/demo_report.py",
    "playbooks/demo/playbook.yml",
    "inventories/lab/README.md",
    "inventories/example/hosts.yml",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "bindep.txt",
    "changelogs/changelog.yaml",
    "docs/ee/execution-environment.yml",
    "LICENSE",
    "README.md",
)
DOCUMENTED_PLUGIN_TYPES = ("modules", "become", "test", "lookup", "filter", "callback", "connection", "inventory")


def changelog_tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return tool("antsibull-changelog", *args, cwd=cwd)


def fragment_entries() -> dict[str, list[str]]:
    """section -> entries of every fragment (the release summary and `add object` sections left out)."""
    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "changelogs" / "fragments").glob("*.y*ml")):
        for section, entries in (yaml.safe_load(path.read_text()) or {}).items():
            if isinstance(entries, list) and not section.startswith("add "):
                out.setdefault(section, []).extend(entries)
    return out


def test_changelog_lint_passes():
    """antsibull-changelog lint: every fragment is valid (sections, RST markup), and so is changelog.yaml."""
    proc = changelog_tool("lint", cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr
    proc = changelog_tool("lint-changelog-yaml", "changelogs/changelog.yaml", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_changelog_lint_refuses_bad_fragments(tmp_path):
    """An unknown section and broken RST markup are reported by file and make lint fail."""
    copy = copy_for_release(tmp_path)
    (copy / "changelogs/fragments/zz-section.yaml").write_text("---\nnew_stuff:\n  - x - y.\n")
    (copy / "changelogs/fragments/zz-markup.yaml").write_text("---\nbugfixes:\n  - x - ``unclosed literal.\n")
    proc = changelog_tool("lint", cwd=copy)
    assert proc.returncode != 0
    assert "zz-section.yaml" in proc.stdout and "invalid section: new_stuff" in proc.stdout, proc.stdout
    assert "zz-markup.yaml" in proc.stdout, proc.stdout


def test_release_notes_for_1_0_0_and_the_next_release(tmp_path):
    """`antsibull-changelog release` for galaxy.yml's version: CHANGELOG.rst has the release summary, every
    fragment's entries (changelog.yaml holds them all), the modules, become and test plugins, roles and
    playbooks as new, and the fragments are consumed; a later release holds only the fragment added after."""
    copy = copy_for_release(tmp_path)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    assert version == "1.0.0"
    proc = changelog_tool("release", "--version", version, "--date", "2025-06-01", cwd=copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    notes = (copy / "CHANGELOG.rst").read_text()
    assert "v1.0.0\n======" in notes and "Release Summary" in notes and "First release" in notes
    release = yaml.safe_load((copy / "changelogs/changelog.yaml").read_text())["releases"][version]
    assert release["release_date"] == "2025-06-01"
    for section, entries in fragment_entries().items():
        if section != "release_summary":
            assert sorted(release["changes"][section]) == sorted(entries), section
    modules = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py"))
    assert sorted(m["name"] for m in release["modules"]) == modules
    assert set(release["plugins"]) >= {"become", "test"}
    # Roles and playbooks are announced by fragments (`add object.role`); the ones announced exist.
    roles = {r["name"] for r in release["objects"]["role"]}
    assert {"agent", "home_agent", "foreign_agent", "mobile_node", "lab"} <= roles
    assert roles <= {p.name for p in (ROOT / "roles").iterdir()}
    playbooks = {p["name"] for p in release["objects"]["playbook"]}
    assert {"site", "verify", "rotate_keys"} <= playbooks <= {p.stem for p in (ROOT / "playbooks").glob("*.yml")}
    for heading in ("New Modules", "New Roles", "New Playbooks", "New Plugins"):
        assert heading in notes
    assert list((copy / "changelogs/fragments").iterdir()) == []

    (copy / "changelogs/fragments/later-fix.yaml").write_text("---\nbugfixes:\n  - mipd - a later fix.\n")
    proc = changelog_tool("release", "--version", "1.0.1", "--date", "2025-07-01", cwd=copy)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    releases = yaml.safe_load((copy / "changelogs/changelog.yaml").read_text())["releases"]
    assert releases["1.0.1"]["changes"] == {"bugfixes": ["mipd - a later fix."]}
    notes = (copy / "CHANGELOG.rst").read_text()
    assert notes.index("v1.0.1") < notes.index("v1.0.0")


def _tracked_files() -> list[str] | None:
    proc = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 and proc.stdout else None


def test_artifact_keeps_runtime_files_and_leaves_developer_files_out(collection_artifact):
    """The artifact holds what the roles and playbooks read at run time and the EE metadata; no test,
    benchmark, developer script, fragment, cache or build output; every other tracked file is in it, and
    nothing that git does not track (besides Galaxy's MANIFEST.json and FILES.json)."""
    with tarfile.open(collection_artifact) as tar:
        files = {m.name for m in tar.getmembers() if m.isfile()}
    assert [f for f in RUNTIME_FILES if f not in files] == []
    assert sorted(f for f in files if f.startswith(DEVELOPER_FILES)) == []
    assert sorted(f for f in files if "__pycache__" in f or f.endswith(".pyc") or ".egg-info" in f) == []
    tracked = _tracked_files()
    if tracked is None:
        pytest.skip("not a git checkout")
    not_as_files = {"galaxy.yml"} | {f for f in tracked if (ROOT / f).is_symlink()}  # galaxy.yml: MANIFEST.json
    assert sorted(set(tracked) - files - not_as_files - {f for f in tracked if f.startswith(DEVELOPER_FILES)}) == []
    assert sorted(files - set(tracked) - {"MANIFEST.json", "FILES.json"}) == []


def test_ansible_doc_from_the_installed_artifact(installed_collection, tmp_path):
    """With only the installed artifact on the collections path (run outside the checkout), ansible-doc
    lists exactly the modules of plugins/modules and documents each module, plugin and role."""
    installed = installed_collection / "ansible_collections" / "netmobility" / "mobileip"

    def doc(*args: str) -> dict:
        proc = tool("ansible-doc", "--json", *args, cwd=tmp_path, collections=installed_collection)
        assert proc.returncode == 0 and "[WARNING]" not in proc.stderr, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    modules = sorted(f"netmobility.mobileip.{p.stem}" for p in (ROOT / "plugins/modules").glob("*.py"))
    assert sorted(doc("-l", "netmobility.mobileip")) == modules
    for kind in DOCUMENTED_PLUGIN_TYPES:
        names = sorted(
            f"netmobility.mobileip.{p.stem}"
            for p in (installed / "plugins" / kind).glob("*.py")
            if p.stem != "__init__"
        )
        if names:
            docs = doc("-t", kind.rstrip("s") if kind == "modules" else kind, *names)
            assert sorted(docs) == names and all(d["doc"]["short_description"] for d in docs.values()), kind
    roles = sorted(f"netmobility.mobileip.{p.name}" for p in (ROOT / "roles").iterdir())
    docs = doc("-t", "role", *roles)
    assert sorted(docs) == roles
    assert all(d["entry_points"]["main"]["short_description"] for d in docs.values())


def test_playbooks_load_from_the_installed_artifact(installed_collection, tmp_path):
    """Every shipped playbook passes --syntax-check from the installed artifact; lab_up, site and verify by
    their FQCN too (how docs/ci.md runs them)."""
    installed = installed_collection / "ansible_collections" / "netmobility" / "mobileip"
    playbooks = sorted(str(p) for p in (installed / "playbooks").glob("*.yml"))
    fqcns = ["netmobility.mobileip.lab_up", "netmobility.mobileip.site", "netmobility.mobileip.verify"]
    proc = tool(
        "ansible-playbook", "--syntax-check", *playbooks, *fqcns, cwd=tmp_path, collections=installed_collection
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(playbooks) >= 7


def test_agent_wheel_builds_from_the_installed_artifact(installed_collection, tmp_path):
    """Role agent's wheel builder, run from the installed artifact on its agent/ as the role runs it, makes
    the mipd wheel (version of agent/pyproject.toml, the daemon and the control tool inside)."""
    installed = installed_collection / "ansible_collections" / "netmobility" / "mobileip"
    builder = installed / "roles/agent/files/mipd_wheel.py"
    proc = tool("python", str(builder), str(installed / "agent"), str(tmp_path / "wheels"), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = json.loads(proc.stdout)
    assert built["exists"] and built["built"] and built["version"] == "1.0.0", built
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
    assert {"mipd/cli/mipd.py", "mipd/cli/mipctl.py", "mipd/runtime/radius.dictionary"} <= names
