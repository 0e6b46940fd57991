"""mipd: the Mobile IPv4 agent bundled with netmobility.mobileip (RFC 5944).

Layers, each importing only the ones below it (docs/architecture.md):
ipv4 < wire < security < protocol, and runtime < cli on top; dataplane is a peer of protocol
under the runtime (it imports only ipv4, none of wire, security, protocol).
"""

__version__ = "1.0.0"
