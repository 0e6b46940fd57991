#!/usr/bin/env python3
"""Wall time of playbooks/site.yml on the namespace lab, and of its second (no-change) run, per host.

    .venv/bin/python benchmarks/site_timing.py [--mobile-nodes N [N ...]] [--forks F] [--ios-like HOST ...]
                                               [--rotate] [--strategy mitogen_linear]

Brings up a lab of its own (playbooks/lab_up.yml: ha, fa1, fa2, rt, cn and N mobile nodes; prefix
``mbench<pid>``, its own management network, inventory and state directory), roams mn1 to visit1 and
mn2 to visit2, writes a keys inventory, then runs site.yml twice over SSH (pipelining on) and prints,
for each run, the playbook's wall time and per host: the span from the host's first task start to its
last task result, the time its tasks took (the sum of their durations) and their count. Per-host
times come from a small callback plugin (written to a temporary directory) that timestamps every task
start and result. The first run includes building the agent's wheel on the controller (a fresh cache)
and making each host's virtualenv. Checks that the second run changed nothing and that verify.yml
passes, then removes the lab (lab_down.yml). Needs root, sshd, tcpdump (tests/ansible/site_helpers.py).
With several --mobile-nodes values it builds one lab per value (fleets of N + 3 agent hosts: 7, 22 and
47 mobile nodes make the issue's 10, 25 and 50) and ends with a table of how wall time per host and
tasks per host grow with the fleet. --ios-like makes those hosts IOS-like routers (the simulator with
a real mipd behind its CLI; e.g. `--ios-like ha fa2` for a mixed fleet); --rotate also times one
rotate_keys.yml run (every MN-HA and FA-HA key, with overlap).
Prints figures, asserts nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "ansible"), str(ROOT / "tests")]

import site_helpers as sh  # noqa: E402

CALLBACK = '''
"""Per-host task timing for benchmarks/site_timing.py (aggregate callback, enabled by name)."""
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mip_host_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.start = time.time()
        self.hosts = {}
        self.tasks = {}  # task name -> time its runs took, summed over hosts, and how many ran or were skipped
        self.task_start = self.start

    def _host(self, name):
        return self.hosts.setdefault(name, {"first": None, "last": None, "busy": 0.0, "tasks": 0, "open": {}})

    def _task(self, task):
        return self.tasks.setdefault(task.get_name(), {"busy": 0.0, "runs": 0, "skipped": 0})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task_start = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self.task_start = time.time()

    def v2_runner_on_start(self, host, task):
        h = self._host(host.get_name())
        now = time.time()
        h["open"][task._uuid] = now
        if h["first"] is None:
            h["first"] = now

    def _done(self, result):
        h = self._host(result._host.get_name())
        now = time.time()
        started = h["open"].pop(result._task._uuid, self.task_start)
        if h["first"] is None:
            h["first"] = started
        h["busy"] += now - started
        h["last"] = now
        h["tasks"] += 1
        t = self._task(result._task)
        t["busy"] += now - started
        t["runs"] += 1

    def v2_runner_on_skipped(self, result):
        self._done(result)
        self._task(result._task)["skipped"] += 1

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_unreachable = _done

    def v2_playbook_on_stats(self, stats):
        out = {"total": time.time() - self.start, "hosts": {
            name: {"span": (h["last"] or h["first"]) - h["first"], "busy": h["busy"], "tasks": h["tasks"]}
            for name, h in self.hosts.items() if h["first"] is not None}, "tasks": self.tasks}
        with open(os.environ["MIP_HOST_TIMES"], "w") as f:
            json.dump(out, f)
'''


TOP_TASKS = 15  # tasks listed per run (--all-tasks: every one)


def machine_cpu() -> float:
    """CPU seconds this machine has spent (every process: the controller, the hosts' sshd and modules)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def timed(lab: sh.SiteLab, plugins: Path, name: str, playbook: str = "site.yml",
          **kw: object) -> tuple[float, dict, dict]:
    """Run a playbook with the timing callback: (wall seconds, recap per host, callback figures, with the
    controller's CPU seconds (ansible-playbook and its workers) and the whole machine's)."""
    out = plugins / f"{name}.json"
    lab.env.update({"ANSIBLE_CALLBACK_PLUGINS": str(plugins), "ANSIBLE_CALLBACKS_ENABLED": "mip_host_timer",
                    "MIP_HOST_TIMES": str(out)})
    children, machine = resource.getrusage(resource.RUSAGE_CHILDREN), machine_cpu()
    start = time.monotonic()
    proc, recap = lab.ok(playbook, **kw)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(out.read_text())
    figures["controller_cpu"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    figures["machine_cpu"] = machine_cpu() - machine
    return wall, recap, figures


def report(title: str, wall: float, recap: dict, figures: dict, top: int = TOP_TASKS) -> None:
    hosts = max(1, len(figures["hosts"]))
    print(f"\n{title}: {wall:.1f} s wall (playbook {figures['total']:.1f} s); CPU per host: controller "
          f"{figures['controller_cpu'] / hosts:.2f} s, whole machine {figures['machine_cpu'] / hosts:.2f} s")
    print(f"  {'host':<6} {'span s':>7} {'task time s':>12} {'tasks':>6} {'changed':>8}")
    for host in sorted(figures["hosts"], key=lambda h: (h[:2] != "ha", h[:2] != "fa", h)):
        f = figures["hosts"][host]
        changed = recap.get(host, {}).get("changed", "-")
        print(f"  {host:<6} {f['span']:>7.1f} {f['busy']:>12.1f} {f['tasks']:>6} {changed!s:>8}")
    tasks = sorted(figures["tasks"].items(), key=lambda item: -item[1]["busy"])
    busy = sum(t["busy"] for _, t in tasks) or 1.0
    print(f"  where the task time went (top {min(top, len(tasks))} of {len(tasks)} tasks, summed over hosts):")
    for name, t in tasks[:top]:
        print(f"    {t['busy']:>7.1f} s {100 * t['busy'] / busy:>4.0f}%  {t['runs']:>4} runs "
              f"({t['skipped']} skipped)  {name[:90]}")


def per_host(run: tuple[float, dict, dict]) -> tuple[float, float]:
    """(wall seconds per host, tasks per host) of a timed run, over the hosts that ran tasks."""
    hosts = run[2]["hosts"]
    count = max(1, len(hosts))
    return run[0] / count, sum(h["tasks"] for h in hosts.values()) / count


def measure(tmp_path: Path, plugins: Path, mobile_nodes: int, args: argparse.Namespace) -> dict[str, object]:
    """One lab of `mobile_nodes` nodes: its site.yml runs (and rotate_keys.yml), printed; the summary row."""
    (tmp_path / f"lab{mobile_nodes}").mkdir()
    lab = sh.SiteLab(tmp_path / f"lab{mobile_nodes}", f"mb{os.getpid() % 100_000}n{mobile_nodes}",
                     mobile_nodes=mobile_nodes)
    lab.env["ANSIBLE_FORKS"] = str(args.forks)
    if args.strategy != "linear":
        import ansible_mitogen  # the option's help says where it comes from

        lab.env["ANSIBLE_STRATEGY_PLUGINS"] = str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy")
        lab.env["ANSIBLE_STRATEGY"] = args.strategy
        # the lab's inventory turns host key checking off in ansible_ssh_common_args, which mitogen does not read
        lab.env["ANSIBLE_HOST_KEY_CHECKING"] = "false"
    if args.ios_like:
        lab.lab_vars += ["-e", json.dumps({"lab_ios_like_hosts": args.ios_like})]
    row: dict[str, object] = {"mobile_nodes": mobile_nodes}
    try:
        start = time.monotonic()
        lab.up()
        lab.roam("mn1", "visit1")
        if mobile_nodes > 1:
            lab.roam("mn2", "visit2")
        row["hosts"] = len(lab.hosts())
        print(f"\nlab up with {row['hosts']} agent hosts (+ rt, cn; IOS-like: {', '.join(args.ios_like) or 'none'}) "
              f"in {time.monotonic() - start:.1f} s; ssh pipelining on, {args.forks} forks, strategy {args.strategy}, "
              f"{os.cpu_count()} CPUs")
        first = timed(lab, plugins, f"first{mobile_nodes}")
        top = 10_000 if args.all_tasks else TOP_TASKS
        report("site.yml, first run (fresh hosts: wheel build, virtualenvs, configuration, start)", *first, top=top)
        second = timed(lab, plugins, f"second{mobile_nodes}")
        report("site.yml, second run (no change)", *second, top=top)
        row["first"], row["second"] = per_host(first), per_host(second)
        row["second_cpu"] = second[2]["machine_cpu"] / max(1, len(second[2]["hosts"]))
        row["unchanged"] = all(r["changed"] == 0 for r in second[1].values())
        if args.rotate:
            rotated = timed(lab, plugins, f"rotate{mobile_nodes}", "rotate_keys.yml",
                            inventories=(lab.inventory, lab.keys_inventory, lab.next_inventory))
            report("rotate_keys.yml", *rotated, top=top)
            row["rotate"] = rotated[0]
        lab.env.pop("ANSIBLE_CALLBACKS_ENABLED")
        row["verified"] = lab.playbook("verify.yml").returncode == 0
        print(f"\nsecond run changed nothing: {row['unchanged']}; verify.yml passed: {row['verified']}")
    finally:
        lab.teardown()
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mobile-nodes", type=int, nargs="+", default=[2],
                   help="mobile nodes in the lab; several values: one lab each (default 2)")
    p.add_argument("--forks", type=int, default=10, help="ansible forks (default 10)")
    p.add_argument("--ios-like", nargs="*", default=[], metavar="HOST",
                   help="hosts of the lab made IOS-like routers (ha, fa1, fa2, mnN)")
    p.add_argument("--rotate", action="store_true", help="also time one rotate_keys.yml run")
    p.add_argument("--all-tasks", action="store_true", help="list every task of each run, not the 15 longest")
    p.add_argument("--strategy", default="linear", choices=("linear", "mitogen_linear", "mitogen_free"),
                   help="Ansible's strategy (mitogen_*: the mitogen strategies, pip install mitogen)")
    args = p.parse_args()
    why = sh.unavailable()
    if why is not None:
        print(f"site_timing: skipped ({why})")
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="mip-site-timing-") as tmp:
        tmp_path = Path(tmp)
        plugins = tmp_path / "callback_plugins"
        plugins.mkdir()
        (plugins / "mip_host_timer.py").write_text(CALLBACK)
        for mobile_nodes in args.mobile_nodes:
            rows.append(measure(tmp_path, plugins, mobile_nodes, args))
    print("\nhow it grows with the fleet (per host: wall time of the run / hosts that ran tasks; CPU: the whole "
          "machine's during the no-change run)")
    print(f"  {'hosts':>5} {'first s/host':>13} {'tasks/host':>11} {'no-change s/host':>17} {'tasks/host':>11}"
          f" {'CPU s/host':>11} {'rotate s':>9}")
    for row in rows:
        (first_s, first_t), (second_s, second_t) = row["first"], row["second"]  # type: ignore[misc]
        rotate = f"{row['rotate']:.1f}" if "rotate" in row else "-"
        print(f"  {row['hosts']:>5} {first_s:>13.1f} {first_t:>11.1f} {second_s:>17.1f} {second_t:>11.1f}"
              f" {row['second_cpu']:>11.2f} {rotate:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
