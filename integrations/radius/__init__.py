"""RADIUS for every ISP at once: an asyncio UDP server for authentication and accounting,
a CoA / Disconnect client (RFC 5176) and a CoA listener that plays the router in tests.

The business side plugs in through the `Protocol`s of `interfaces`: a `ClientDirectory`
(which NAS, which ISP, which secret), an `Authorizer` (admit a user, with what limits) and
an `AccountingSink` (where session records go). `serve_radius` runs the server.
"""
