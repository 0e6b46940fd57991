"""ios_sim: an IOS-like router over SSH for the collection's tests and the namespace lab.

It behaves as netmiko's cisco_ios driver and Ansible's network_cli (cisco.ios) expect and as
IOS does (prompts, enable, abbreviations, error carets, pipes, write memory), holds a running
configuration with the Mobile IP subset of IOS, logs every command (keys masked), and can run a
real mipd in its network namespace. Run it with `python -m ios_sim` (README.md).
"""
