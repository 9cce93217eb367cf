"""MikroTik RouterOS: an async client on librouteros for provisioning, and a local emulator.

`gateway` is the interface provisioning codes against (`RouterOSGateway`) with the menus
and result types; `client` is the real one (`RouterOSClient`, `RouterConnection`) on top of
`menus` (a call per provisioned menu) and `values`; `errors` are what a call can raise;
`marks` names what Kiunga creates on a router so that nothing else is ever touched; `rates`
reads a package's "upload/download" rate limit; `emulator` is a real TCP server speaking the
RouterOS API sentence protocol, for tests and local runs; `wire` is that protocol's framing.
"""
