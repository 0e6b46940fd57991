"""Every shell command the README files show works as written (readme_commands.py finds them).

Each command is in PLAN: run here (a test below runs it, with only what the README itself names
as a placeholder replaced: a path, a lab's prefix, `<keys inventory>`), or not run with the
reason. A command no entry knows, or an entry whose command is gone, fails the suite: editing a
README command means looking at its test.

Traffic rule: the example inventory's hosts are documentation addresses (192.0.2.0/24); its
commands run in a network namespace of this test's own with no route, so nothing leaves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import labenv
import pytest
import readme_commands as rc
import site_helpers
import yaml

ROOT = labenv.ROOT
VENV_BIN = labenv.VENV_BIN

RUN = "run here"
PLAN: dict[str, str] = {
    # quick start and the demo
    "./mip demo": "not run here: tests/demo/test_demo.py runs the same playbook (playbooks/demo.yml) with short "
                  "phases; the options below are checked against the playbook's variables",
    "./mip test": "not run here: it is this suite (CI runs it through .ci/run)",
    "./mip demo -e demo_keep_lab=true": "options checked against playbooks/demo.yml's variables",
    "./mip demo -e demo_summary=/tmp/demo.json -e demo_logs=/tmp/demo-logs":
        "options checked against playbooks/demo.yml's variables",
    "./mip demo -e demo_stream_seconds=1": "options checked against playbooks/demo.yml's variables (the demo "
                                           "test runs this setting)",
    "./mip demo -e demo_platforms=linux": "options checked against playbooks/demo.yml's variables (the demo "
                                          "test runs the demo with each platform setting)",
    "./mip demo --sim": RUN,
    # real hosts
    "ansible-galaxy collection install .": RUN,
    "ansible-playbook -i inventories/example/hosts.yml playbooks/site.yml --vault-id "
    "example@inventories/example/vault-password.example --check --diff": RUN,
    "ansible-vault encrypt_string --vault-id example@inventories/example/vault-password.example "
    "\"$(openssl rand -hex 16)\" --name mip_mn_ha_key >> inventories/example/host_vars/mn1.yml": RUN,
    # the agent
    "mipd check-config /etc/mipd/mipd.yaml": RUN,
    "mipd run -c /etc/mipd/mipd.yaml": RUN,
    "mipctl --json bindings": RUN,
    # the lab
    "ansible-playbook playbooks/lab_up.yml -e lab_mobile_nodes=2": RUN,
    "ansible-playbook -i inventories/lab/hosts.yml -i <keys inventory> playbooks/site.yml": RUN,
    "ansible-playbook -i inventories/lab/hosts.yml playbooks/roam.yml -e node=mn1 -e to=visit1": RUN,
    "ansible-playbook playbooks/lab_down.yml": RUN,
    "ansible-playbook playbooks/lab_up.yml": RUN,
    "ansible -i inventories/lab/hosts.yml all -m ansible.builtin.ping": RUN,
    "mkdir -p build/collections/ansible_collections/netmobility": RUN,
    "ln -sfn \"$PWD\" build/collections/ansible_collections/netmobility/mobileip": RUN,
    "export ANSIBLE_COLLECTIONS_PATH=$PWD/build/collections": RUN,
    # development
    ".venv/bin/python -m pytest tests/agent/wire -q": RUN,
    ".venv/bin/python -m pytest -m \"not lab and not sanity\" -q": "not run here: most of this suite again",
    "scripts/ansible-test.sh": "not run here as such: tests/unit/test_ansible_sanity.py runs the same script",
}


def documented() -> dict[str, rc.Command]:
    return {command.text: command for command in rc.every_command()}


def command(text: str) -> str:
    assert text in documented(), f"no README shows {text!r} any more: update PLAN and this test"
    return text


def shell(text: str, cwd: Path, env: dict[str, str] | None = None, netns: str | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one README command with bash, as a reader would paste it."""
    argv = ["bash", "-c", text]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def ansible_env(tmp: Path, collections: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PATH": f"{VENV_BIN}:{env.get('PATH', '')}", "ANSIBLE_COLLECTIONS_PATH": str(collections),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false", "ANSIBLE_RETRY_FILES_ENABLED": "false",
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp")})
    return env


# ------------------------------------------------------------------ the list itself


def test_every_readme_command_is_planned_and_every_plan_entry_is_written():
    found = documented()
    unknown = sorted(f"{c.source}: {text}" for text, c in found.items() if text not in PLAN)
    assert not unknown, "README commands no test knows (add them to PLAN and run them):\n" + "\n".join(unknown)
    gone = sorted(text for text in PLAN if text not in found)
    assert not gone, "PLAN entries no README shows any more:\n" + "\n".join(gone)
    for text, how in PLAN.items():
        assert how == RUN or how.startswith(("not run here", "options checked")), (text, how)


def test_demo_options_are_the_playbooks_variables():
    """Every `-e NAME=...` the README gives ./mip demo is a variable of playbooks/demo.yml."""
    plays = yaml.safe_load((ROOT / "playbooks" / "demo.yml").read_text())
    names = {name for play in plays for name in (play.get("vars") or {})}
    demo = [text for text in documented() if text.startswith("./mip demo")]
    assert demo
    for text in demo:
        for name in re.findall(r"-e (\w+)=", text):
            assert name in names, f"{text}: {name} is not a variable of playbooks/demo.yml"


def test_mip_demo_sim():
    proc = shell(command("./mip demo --sim"), ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RESULT: OK" in proc.stdout and "registration accepted" in proc.stdout, proc.stdout[-3000:]


def test_a_development_command():
    proc = shell(command(".venv/bin/python -m pytest tests/agent/wire -q"), ROOT, timeout=600)
    assert proc.returncode == 0 and " passed" in proc.stdout, proc.stdout[-3000:]


# ------------------------------------------------------------------ the agent


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network and mount namespaces)")
def test_agent_commands_as_written(tmp_path):
    """check-config, run and mipctl exactly as the README writes them, in a network namespace of this test
    with the README's own example (agent/examples/ha.yaml, keys.yaml) at /etc/mipd, in a mount namespace
    of their own where /etc is an overlay and /run and /var/lib are empty tmpfs: the machine's files are
    not touched. The daemon (detached) is ended by its PID with the namespace."""
    if not (VENV_BIN / "mipd").exists():
        pytest.skip("mipd is not installed in the project venv (./mip setup)")
    ns = f"rdme{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for argv in (["link", "add", "ha-home", "type", "veth", "peer", "name", "ha-peer"],
                     ["addr", "add", "10.1.0.1/24", "dev", "ha-home"], ["link", "set", "ha-home", "up"],
                     ["link", "set", "ha-peer", "up"], ["link", "set", "lo", "up"]):
            subprocess.run(["ip", "-n", ns, *argv], check=True)
        etc = tmp_path / "etc-mipd"
        etc.mkdir(mode=0o700)
        shutil.copy(ROOT / "agent" / "examples" / "ha.yaml", etc / "mipd.yaml")
        shutil.copy(ROOT / "agent" / "examples" / "keys.yaml", etc / "keys.yaml")
        (etc / "keys.yaml").chmod(0o600)
        check, run, ctl = (command("mipd check-config /etc/mipd/mipd.yaml"), command("mipd run -c /etc/mipd/mipd.yaml"),
                           command("mipctl --json bindings"))
        script = f"""
set -e
mkdir -p {tmp_path}/upper {tmp_path}/work
mount -t overlay overlay -o lowerdir=/etc,upperdir={tmp_path}/upper,workdir={tmp_path}/work /etc
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
mkdir -p /etc/mipd /run/mipd /var/lib/mipd
cp -p {etc}/mipd.yaml {etc}/keys.yaml /etc/mipd/
export PATH={VENV_BIN}:$PATH
echo "== check"; {check}
echo "== run"; {run}
for i in $(seq 100); do [ -S /run/mipd/mipd.sock ] && break; sleep 0.1; done
echo "== ctl"; {ctl}
"""
        proc = subprocess.run(["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private",
                               "bash", "-c", script], capture_output=True, text=True, timeout=120, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        checked, _ran, listed = (part.strip() for part in
                                 re.split(r"^== (?:run|ctl)$", proc.stdout.split("== check", 1)[1], flags=re.M))
        assert checked.startswith("config OK: roles home_agent"), out[-2000:]
        assert json.loads(listed) == {"ok": True, "result": []}, out[-2000:]  # a home agent, no binding yet
    finally:
        for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                  check=False).stdout.split():
            os.kill(int(pid), 9)
        subprocess.run(["ip", "netns", "del", ns], check=False)


# ------------------------------------------------------------------ the example inventory (real hosts)


def test_galaxy_install_and_a_vault_encrypted_key(tmp_path):
    """`ansible-galaxy collection install .` (into a collections path of this test: the README's own
    alternative to the default one) and the README's vault command, on a copy of the example inventory."""
    env = ansible_env(tmp_path, tmp_path / "collections")
    proc = shell(command("ansible-galaxy collection install ."), ROOT, env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    installed = tmp_path / "collections" / "ansible_collections" / "netmobility" / "mobileip"
    assert (installed / "MANIFEST.json").exists() and (installed / "plugins" / "modules" / "home_agent.py").exists()
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "inventories", copy / "inventories")
    before = (copy / "inventories/example/host_vars/mn1.yml").read_text()
    text = command('ansible-vault encrypt_string --vault-id example@inventories/example/vault-password.example '
                   '"$(openssl rand -hex 16)" --name mip_mn_ha_key >> inventories/example/host_vars/mn1.yml')
    proc = shell(text, copy, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    added = (copy / "inventories/example/host_vars/mn1.yml").read_text()[len(before):]
    assert added.startswith("mip_mn_ha_key: !vault |") and "$ANSIBLE_VAULT;1.2;AES256;example" in added
    (copy / "inventories/example/host_vars/mn1.yml").write_text(added)
    proc = subprocess.run([str(VENV_BIN / "ansible"), "-i", "inventories/example/hosts.yml", "mn1", "-m",
                           "ansible.builtin.debug", "-a", "msg={{ mip_mn_ha_key | length }}", "--vault-id",
                           "example@inventories/example/vault-password.example"],
                          cwd=copy, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0 and '"msg": 32' in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.ansible
@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a network namespace without routes)")
def test_site_check_diff_on_the_example_inventory(tmp_path):
    """The README's first real-hosts command, in a network namespace without a route (the example's hosts
    are documentation addresses), with the network collections ./mip setup installs and without them:
    every host is validated offline, each unreachable one is reported on its own and none stops the
    others, a host whose connection plugin is missing is named with what to install, nothing changes."""
    text = command("ansible-playbook -i inventories/example/hosts.yml playbooks/site.yml --vault-id "
                   "example@inventories/example/vault-password.example --check --diff")
    listed = subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", "inventories/example/hosts.yml", "--list"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    hostvars = yaml.safe_load(listed)["_meta"]["hostvars"]
    network_cli = {h for h, v in hostvars.items() if v.get("ansible_connection") == "ansible.netcommon.network_cli"}
    linux = {h for h, v in hostvars.items() if "ansible_network_os" not in v}
    assert network_cli and linux
    ns = f"rdmx{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    runs = {}
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for label, collections in (("with", None), ("without", ROOT / "build" / "collections")):
            env = ansible_env(tmp_path, ROOT / "build" / "collections")
            env.pop("ANSIBLE_COLLECTIONS_PATH")  # as a reader runs it: ansible.cfg's collections_path
            if collections:
                env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)  # only this collection: no network_cli
            env["ANSIBLE_TIMEOUT"] = "5"
            runs[label] = shell(text, ROOT, env, netns=ns, timeout=600)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    for label, proc in runs.items():
        out = proc.stdout + proc.stderr
        assert "Traceback" not in out and "was not found" not in out, f"{label}:\n{out[-5000:]}"
        recap = {m[0]: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m[1:]), strict=True))
                 for m in re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                                     proc.stdout, re.M)}
        assert set(recap) == set(hostvars), out[-5000:]
        assert all(r["changed"] == 0 for r in recap.values()), out[-5000:]
        # validated offline, then each Linux host unreachable on its own (none stopped the others)
        assert all(recap[h]["unreachable"] == 1 and recap[h]["failed"] == 0 and recap[h]["ok"] >= 5 for h in linux), \
            out[-5000:]
        assert len(re.findall(r"^fatal: \[(\S+)\]: UNREACHABLE!", proc.stdout, re.M)) == len(linux)
        missing = set(re.findall(r"^fatal: \[(\S+)\]: FAILED! .*cannot be loaded on this controller.*"
                                 r"ansible-galaxy collection install ansible.netcommon cisco.ios", proc.stdout, re.M))
        assert missing == (network_cli if label == "without" else set()), out[-5000:]


# ------------------------------------------------------------------ the lab


@pytest.mark.lab
@pytest.mark.skipif(site_helpers.unavailable() is not None, reason=str(site_helpers.unavailable()))
def test_lab_commands_as_written(tmp_path):
    """The lab commands of README.md and roles/lab/README.md in the order a reader runs them, with the lab's
    own prefix, management network and inventory path (variables the READMEs name) and a keys inventory
    for `<keys inventory>`: set up, lab_up, ping, lab_up with two nodes, site.yml, roam, lab_down."""
    lab = site_helpers.SiteLab(tmp_path, f"rdm{os.getpid() % 100000}", mobile_nodes=2)
    own = (f" -e lab_prefix={lab.prefix} -e lab_mgmt_network={lab.mgmt} -e lab_inventory_path={lab.inventory}")

    def run(text: str, lab_vars: bool = False, **kw) -> str:
        written = command(text)
        text = written.replace("inventories/lab/hosts.yml", str(lab.inventory))
        text = text.replace("<keys inventory>", str(lab.keys_inventory))
        proc = shell(text + (own if lab_vars else "") + " " + " ".join(lab.extra), site_helpers.COLLECTION,
                     lab.env, **kw)
        lab.outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"{written}:\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}"
        return proc.stdout

    setup = tmp_path / "checkout"
    setup.mkdir()
    for text in ("mkdir -p build/collections/ansible_collections/netmobility",
                 "ln -sfn \"$PWD\" build/collections/ansible_collections/netmobility/mobileip",
                 "export ANSIBLE_COLLECTIONS_PATH=$PWD/build/collections"):
        assert shell(command(text), setup).returncode == 0, text
    assert (setup / "build/collections/ansible_collections/netmobility/mobileip").resolve() == setup
    try:
        run("ansible-playbook playbooks/lab_up.yml", lab_vars=True)
        out = run("ansible -i inventories/lab/hosts.yml all -m ansible.builtin.ping")
        assert sorted(re.findall(r"^(\w+) \| SUCCESS", out, re.M)) == ["cn", "fa1", "fa2", "ha", "mn1", "rt"]
        run("ansible-playbook playbooks/lab_up.yml -e lab_mobile_nodes=2", lab_vars=True)
        lab.write_keys()
        out = run("ansible-playbook -i inventories/lab/hosts.yml -i <keys inventory> playbooks/site.yml")
        assert re.search(r"^mn2\s*:\s*ok=\d+\s+changed=[1-9]", out, re.M), out[-3000:]
        out = run("ansible-playbook -i inventories/lab/hosts.yml playbooks/roam.yml -e node=mn1 -e to=visit1")
        assert site_helpers.recaps(out)["localhost"]["changed"] == 1
        run("ansible-playbook playbooks/lab_down.yml", lab_vars=True)
        lab.down = True
        assert not lab.inventory.exists() and not lab.state_dir.exists()
    finally:
        lab.teardown()
    for key in lab.all_keys():
        assert not any(key in output for output in lab.outputs), "a key in a command's output"
