"""mipd: the Mobile IPv4 agent bundled with netmobility.mobileip (RFC 5944).

Layers, each importing only the ones below it (shared/DESIGN.md):
wire < security < protocol < dataplane < runtime < cli.
"""

__version__ = "1.0.0"
