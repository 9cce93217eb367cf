"""MikroTik RouterOS: an async client on librouteros for provisioning, and a local emulator.

`client` talks to a router's API (8728, or 8729 with TLS); `marks` names what Kiunga creates
on a router so that nothing else is ever touched; `rates` reads a package's rate limit;
`emulator` is a real TCP server speaking the RouterOS API sentence protocol, for tests and
local runs; `wire` is that protocol's framing.
"""
