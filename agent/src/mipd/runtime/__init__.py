"""Layer 5: the mipd daemon (docs/architecture.md).

Runs the sans-IO state machines of `mipd.protocol` for real: YAML configuration
(`config`), UDP/ICMP/link-layer sockets, timers, data-plane actions, SQLite persistence
(`store`), the control socket (`control`) and reload/shutdown (`daemon`).
"""
