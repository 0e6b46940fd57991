"""mipd: the Mobile IPv4 agent bundled with netmobility.mobileip (RFC 5944).

Layers, each importing only the ones below it (docs/architecture.md):
wire < security < protocol, and runtime < cli on top; dataplane is a peer of protocol (it
imports neither) under the runtime.
"""

__version__ = "1.0.0"
