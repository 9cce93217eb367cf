"""The tenant side of RADIUS: who may connect and with what limits (an in-memory cache of
every ISP's services), accounting written to each ISP's schema, data caps, and CoA /
Disconnect-Requests to the router a session is on. `kiunga radius` runs the server."""
