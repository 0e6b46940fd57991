"""Layer 3: the sans-IO Mobile IPv4 state machines (RFC 5944 §2-§4; docs/architecture.md).

Events in (a packet, a timer, a link change, a configuration, each with the current time),
actions out; no socket, no clock, no I/O. Imports only `mipd.wire` and `mipd.security`.

- `home_agent`, `foreign_agent`, `mobile_node`: one state machine per role.
- `advertiser`: agent advertisements and answers to solicitations, for either agent role.
- `discovery`: the mobile node's agent discovery and movement detection (§2.4).
- `actions`: the events in and the actions out.
- `config`: the validated role configurations the machines take.
- `codes`: Registration Reply codes; `filters`: address sets and registration filters.
- `ratelimit`: token buckets on denial replies and their log lines.

`mipd.simnet`, outside this layer, runs the machines against each other in memory (tests, demo).
"""
