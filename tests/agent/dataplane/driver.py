"""Test driver: runs a data plane inside a network namespace, commanded over stdin.

Started as ``ip netns exec NS python driver.py [json options]``; reads one JSON request per
line ({"op": name, "args": {...}}) and answers one JSON line ({"ok": true, "result": ...} or
{"ok": false, "error": "..."}). The data plane is attached to this process's asyncio loop,
as the runtime will do. Tunnels are referred to by an integer id.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

from mipd.dataplane import Tunnel, open_dataplane, set_ip_forward
from mipd.dataplane.kernel import KernelDataplane


class StandInKernelDataplane(KernelDataplane):
    """The kernel backend with bridge devices standing in for ipip/gre devices, for a kernel
    without those modules: everything but the encapsulation itself (device lifecycle, routes,
    per-tunnel reverse tables, rules, counters, cleanup) runs for real."""

    def _link_spec(self, local: str, remote: str, encap: str) -> tuple[str, bytes]:
        return "bridge", b""


async def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    backend = options.pop("backend", "userspace")
    forward = options.pop("ip_forward", True)
    if forward:
        set_ip_forward(True)
    if options.pop("kernel_standin", False):
        dp = StandInKernelDataplane(**options)
    else:
        dp = open_dataplane(backend, **options)
    loop = asyncio.get_running_loop()
    dp.attach(loop)
    tunnels: dict[int, Tunnel] = {}
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply({"ok": True, "result": {"backend": dp.name, "tun": getattr(dp, "tun_name", None)}})
    while True:
        line = await reader.readline()
        if not line:
            break
        req = json.loads(line)
        op, args = req["op"], req.get("args", {})
        try:
            if "tunnel" in args:
                args["tunnel"] = tunnels[args["tunnel"]]
            if op == "add_tunnel":
                t = dp.add_tunnel(**args)
                tunnels[id(t)] = t
                result: Any = {"id": id(t), "mtu": t.mtu, "pmtu": t.pmtu, "refs": t.refs}
            elif op == "tunnel_state":
                t = args["tunnel"]
                result = {"mtu": t.mtu, "pmtu": t.pmtu, "refs": t.refs}
            elif op == "counters":
                result = dp.counters()
            elif op == "age_pmtu":
                result = dp.age_pmtu(**args)
            elif op == "close":
                dp.close()
                result = None
            elif op == "exit":
                reply({"ok": True, "result": None})
                break
            else:
                result = getattr(dp, op)(**args)
                if isinstance(result, Tunnel):
                    result = id(result)
            reply({"ok": True, "result": result})
        except Exception as exc:  # reported to the test, which decides
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}",
                   "trace": traceback.format_exc()})
    dp.close()


if __name__ == "__main__":
    asyncio.run(main())
