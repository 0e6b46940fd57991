"""docs/ci.md's recipe for users' pipelines, run as written on a namespace lab of this machine.

The fenced ``sh`` blocks of docs/ci.md, in order, are one bash script; its ``yaml`` block is the
team's settings file. The script runs with the variables its first block names set by the test: the
collection's built artifact as MIP_COLLECTION (so the whole job runs on what a release ships), a lab
name and management network of its own (a 10.252.N.0/24 no other test uses), artefacts and work
directories in a temporary directory, and random keys as the CI secrets.

One passing job is shared by the module (lab up, site.yml, roam, verify.yml under ansible-playbook
and ansible-navigator, lab down: a few minutes); a second job with a malformed key must fail at
site.yml's offline validation with exit status 2 and still remove its lab. Both are checked for
leftovers (namespaces, links, addresses, processes, state directory) and for keys in any output.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import labenv
import pytest
from ecosystem_support import ROOT, VENV_BIN

STATE_ROOT = Path("/var/lib/netmobility-lab")
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
RUNNER_MARKER = re.compile(r"\x1b\[K[A-Za-z0-9+/=]*\x1b\[\d+D\x1b\[K")
AGENT_HOSTS = {"ha", "fa1", "fa2", "mn1"}

pytestmark = [
    pytest.mark.lab,
    pytest.mark.ansible,
    pytest.mark.skipif(labenv.lab_unavailable() is not None, reason=str(labenv.lab_unavailable())),
]


@dataclass(frozen=True)
class Recipe:
    script: str  # the sh blocks, in order
    settings: str  # the yaml block: the team's settings file
    variables: list[str]  # the MIP_* variables the first block names


def recipe() -> Recipe:
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", (ROOT / "docs" / "ci.md").read_text(), re.M | re.S)
    shell = [body for lang, body in blocks if lang == "sh"]
    settings = [body for lang, body in blocks if lang == "yaml"]
    assert len(shell) >= 3 and len(settings) == 1, [block[0] for block in blocks]
    return Recipe("\n".join(shell), settings[0], re.findall(r"^(MIP_\w+)=\$\{\1:-", shell[0], re.M))


def recaps(text: str) -> dict[str, tuple[int, ...]]:
    return {m.group(1): tuple(map(int, m.groups()[1:])) for m in RECAP.finditer(text)}


class Job:
    """One run of the recipe with its own lab, directories and secrets."""

    def __init__(self, tmp: Path, prefix: str, artifact: Path, keys: dict[str, str]) -> None:
        self.tmp, self.prefix, self.keys = tmp, prefix, keys
        self.mgmt = labenv.free_network("10.252", 20, 219)
        self.artefacts = tmp / "artefacts"
        self.recipe = recipe()
        settings = tmp / "ci" / "mobileip.yml"
        settings.parent.mkdir(parents=True)
        settings.write_text(self.recipe.settings)
        variables = {
            "MIP_COLLECTION": str(artifact),
            "MIP_SETTINGS": "ci/mobileip.yml",
            "MIP_LAB_PREFIX": prefix,
            "MIP_LAB_NETWORK": self.mgmt,
            "MIP_ARTEFACTS": "artefacts",
            "MIP_WORK": "work",
        }
        assert sorted(variables) == sorted(self.recipe.variables), "docs/ci.md names other variables"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "JUNIT_", "MIP_"))}
        self.env.update(variables)
        self.env.update(
            {
                "MIP_MN1_KEY": keys["mn1"],
                "MIP_FA1_KEY": keys["fa1"],
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
                "ANSIBLE_HOME": str(tmp / "home"),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"),
            }
        )
        self.proc: subprocess.CompletedProcess[str] | None = None

    def run(self) -> subprocess.CompletedProcess[str]:
        self.proc = subprocess.run(
            ["bash", "-c", self.recipe.script],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            env=self.env,
            timeout=1200,
            check=False,
        )
        return self.proc

    def artefact(self, name: str) -> str:
        return (self.artefacts / name).read_text()

    def outputs(self) -> str:
        """The job's console output and every artefact, as text."""
        texts = [self.proc.stdout, self.proc.stderr] if self.proc else []
        texts += [p.read_text(errors="replace") for p in sorted(self.artefacts.rglob("*")) if p.is_file()]
        return "\n".join(texts)

    def leftovers(self) -> dict[str, object]:
        """What the lab could leave on the machine."""
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
        addresses = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
        state_dir = STATE_ROOT / self.prefix
        procs = subprocess.run(["pgrep", "-af", str(state_dir)], capture_output=True, text=True, check=False).stdout
        return {
            "namespaces": [n for n in namespaces.split() if n.startswith(self.prefix + "-")],
            "links": [line for line in links.splitlines() if f" {self.prefix}-" in line],
            "addresses": [line for line in addresses.splitlines() if self.mgmt.rsplit(".", 1)[0] + "." in line],
            "processes": [line for line in procs.splitlines() if line.strip()],
            "state_dir": state_dir.exists(),
        }

    def cleanup(self) -> None:
        """Whatever the job left (it should leave nothing): the lab's Python API, then its files."""
        if any(self.leftovers().values()):
            labenv.importable(labenv.linked_collections("mobileip-ci-collections-"))
            from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

            lt.ensure_absent(self.prefix, [f"{self.prefix}-mg"])
            shutil.rmtree(STATE_ROOT / self.prefix, ignore_errors=True)


def new_keys() -> dict[str, str]:
    return {"mn1": secrets.token_hex(16), "fa1": secrets.token_hex(16)}


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory, collection_artifact: Path):
    j = Job(tmp_path_factory.mktemp("ci-job"), f"mci{os.getpid() % 100000}", collection_artifact, new_keys())
    try:
        j.run()
        j.after = j.leftovers()
        yield j
    finally:
        j.cleanup()


def test_recipe_passes(job):
    """The job exits 0 and says so; every playbook it ran ended with no failed or unreachable host."""
    proc = job.proc
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "job exit status: 0" in proc.stdout
    for name in ("lab_up", "site", "roam", "verify", "verify-navigator", "lab_down"):
        hosts = recaps(job.artefact(f"{name}.log"))
        assert hosts and all(r[2] == 0 and r[3] == 0 for r in hosts.values()), name
    assert set(recaps(job.artefact("verify.log"))) >= AGENT_HOSTS


def test_recipe_keeps_junit_reports_and_agent_logs(job):
    """junit/ holds a report per playbook run (verify's: a test case per task and host, none failed), and
    agent-logs/ each lab host's mipd log, mn1's with its registration through FA1."""
    reports = {p.name.rsplit("-", 1)[0]: p for p in (job.artefacts / "junit").glob("*.xml")}
    assert {"lab_up", "site", "roam", "verify", "lab_down"} <= set(reports), sorted(reports)
    suites = ET.parse(reports["verify"]).getroot()
    cases = suites.findall(".//testcase")
    assert cases and not suites.findall(".//failure") and not suites.findall(".//error")
    logs = {p.stem: p.read_text() for p in (job.artefacts / "agent-logs").glob("*.log")}
    assert set(logs) == AGENT_HOSTS and all(logs.values())
    assert "10.100.2.1" in logs["mn1"]


def test_navigator_verify_gives_the_same_result(job):
    """verify.yml under `ansible-navigator run --ee false --mode stdout` and under ansible-playbook (same lab,
    same inventories): the same plays, tasks, per-host results and recap; no runner marker left in the log."""
    played = job.artefact("verify.log")
    navigated = job.artefact("verify-navigator.log")
    assert "\x1b" not in navigated and not RUNNER_MARKER.search(navigated)

    def results(text: str) -> list[str]:
        """Play and task headers in order; under each, its host results sorted (forks finish in any order)."""
        ordered: list[str] = []
        hosts: list[str] = []
        for line in text.splitlines():
            if re.match(r"^(PLAY|TASK) \[", line):
                ordered += sorted(hosts) + [line.strip()]
                hosts = []
            elif re.match(r"^(ok|changed|skipping|failed|fatal): \[", line):
                hosts.append(line.strip())
        return ordered + sorted(hosts)

    assert results(navigated) == results(played)
    assert recaps(navigated) == recaps(played)


def test_no_key_in_the_output_or_artefacts(job):
    """Neither key appears in the job's console output, a playbook log, a JUnit report or an agent log."""
    text = job.outputs()
    assert len(text) > 10_000
    for key in job.keys.values():
        assert key not in text and key.upper() not in text


def test_lab_is_gone_after_the_job(job):
    """The trap removed the lab: no namespace, link, address, process or state directory of it is left."""
    assert not any(job.after.values()), job.after


def test_a_bad_setting_fails_the_job_and_the_lab_still_goes(tmp_path, collection_artifact):
    """A malformed MN-HA key among the CI secrets: site.yml refuses it offline, before touching a host, so
    the job exits 2 (and says so), verify never runs, the logs of the steps that ran are kept, the lab is
    removed by the trap, and the bad key is in no output."""
    keys = {"mn1": "zz" + secrets.token_hex(15), "fa1": secrets.token_hex(16)}
    j = Job(tmp_path, f"mcf{os.getpid() % 100000}", collection_artifact, keys)
    try:
        proc = j.run()
        after = j.leftovers()
    finally:
        j.cleanup()
    assert proc.returncode == 2, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "job exit status: 2" in proc.stdout
    assert (j.artefacts / "lab_up.log").exists() and (j.artefacts / "lab_down.log").exists()
    assert "mip_mn_ha_key" in j.artefact("site.log")
    assert not (j.artefacts / "verify.log").exists()
    assert not any(after.values()), after
    text = j.outputs()
    for key in keys.values():
        assert key not in text and key[2:] not in text
