"""Layer 6: command-line tools. `mipd` runs the agent and checks configurations; `mipctl` asks a
running agent for its state over the control socket (docs/architecture.md)."""
