"""`rendered` and `parsed` run in the action plugin's process (plugins/plugin_utils/offline.py): through
ansible-playbook at -vvv, on a Linux host and on an IOS-like router, the results are the ones the module
gives when run as a module, no module payload is built for them, bad and unknown options are refused
with the module's own messages, and no key is shown."""

from __future__ import annotations

import json
from pathlib import Path

import mobileip_helpers as h
import pytest
from test_ansible_cli import KEY, cli

pytestmark = pytest.mark.ansible

SA = {"peer": "10.1.0.10", "spi": 257, "key": KEY}
MN = {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "interfaces": ["mn-eth0"]}
RUNNING_CONFIG = f"ip mobile secure host 10.1.0.10 spi 257 key hex {KEY} algorithm md5 mode prefix-suffix\n"
TASKS = {  # name: (module, args, platform)
    "mn_rendered": ("mobile_node", {"config": MN, "state": "rendered"}, "linux"),
    "sa_rendered": ("security_associations", {"config": [SA], "state": "rendered"}, "linux"),
    "sa_rendered_ios": ("security_associations", {"config": [{**SA, "kind": "host"}], "state": "rendered"}, "ios"),
    "bad_value": ("home_agent", {"config": {"address": "10.1.0.1", "interface": "ha0", "home_networks": ["10.1.0.0/24"],
                                            "max_lifetime": -1}, "state": "rendered"}, "linux"),
    "unknown_option": ("mobile_node", {"config": {**MN, "colour": "blue"}, "state": "rendered"}, "linux"),
    "no_config": ("mobile_node", {"state": "rendered"}, "linux"),
    "sa_parsed_ios": ("security_associations", {"running_config": RUNNING_CONFIG, "state": "parsed"}, "ios"),
}


def playbook(out: Path) -> str:
    tasks = [{"name": name, f"netmobility.mobileip.{module}": {**args, "platform": platform},
              "register": name, "ignore_errors": True} for name, (module, args, platform) in TASKS.items()]
    tasks.append({"name": "Keep the results", "ansible.builtin.copy": {
        "dest": str(out), "content": "{{ {" + ", ".join(f"'{n}': {n}" for n in TASKS) + "} | to_json }}"}})
    return json.dumps([{"name": "Offline states", "hosts": "localhost", "connection": "local",
                        "gather_facts": False, "tasks": tasks}])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    tmp = tmp_path_factory.mktemp("offline")
    book = tmp / "offline.yml"
    book.write_text(playbook(tmp / "results.json"))
    proc = cli("ansible-playbook", "-vvv", "-i", "localhost,", str(book))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr, json.loads((tmp / "results.json").read_text())


def as_module(name: str) -> dict:
    module, args, platform = TASKS[name]
    # the name Ansible gives a module it runs (its messages name it)
    return h.run_module(module, {**args, "platform": platform,
                                 "_ansible_module_name": f"netmobility.mobileip.{module}"}).result


def test_no_module_payload_is_built_and_no_key_is_shown(run):
    output = run[0]
    assert KEY not in output and KEY.upper() not in output
    for module in {task[0] for task in TASKS.values()}:
        assert f"AnsiballZ_{module}" not in output


@pytest.mark.parametrize("name", ["mn_rendered", "sa_rendered", "sa_rendered_ios", "sa_parsed_ios"])
def test_same_result_as_the_module(run, name):
    results = run[1]
    here, module = results[name], as_module(name)
    assert not here.get("failed") and not module.get("failed"), (here, module)
    for key in ("rendered", "parsed"):
        assert here.get(key) == module.get(key)
    assert KEY not in json.dumps(here)


@pytest.mark.parametrize("name", ["bad_value", "unknown_option", "no_config"])
def test_refused_with_the_modules_message(run, name):
    results = run[1]
    here, module = results[name], as_module(name)
    assert here["failed"] and module["failed"]
    assert here["msg"] == module["msg"], (here["msg"], module["msg"])
    assert KEY not in json.dumps(here)
