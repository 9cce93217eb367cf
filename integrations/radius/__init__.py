"""RADIUS for every ISP at once: an asyncio UDP server for authentication and accounting,
a CoA / Disconnect client (RFC 5176) and a listener that plays the router's CoA port.

The business side plugs in through the `Protocol`s of `interfaces`:

- `ClientDirectory.lookup(source_ip) -> RadiusClient | None`: which NAS, which ISP (tenant
  key), which router, which secret, whether a Message-Authenticator is required;
- `Authorizer.authorize(client, username) -> Authorization | Rejection`: from memory only,
  it runs for every Access-Request; the server checks the password (PAP or CHAP) itself;
- `AccountingSink.accept(record) -> bool` (async): `accounting.BatchingSink` batches records
  for an async flush callback.

`runner.serve_radius(host, auth_port, acct_port, directory, authorizer, sink, workers=…)`
runs the server until SIGTERM; `server.RadiusServer` runs it inside an event loop (tests).
`dynauth.send_coa` / `send_disconnect` change or end live sessions; `emulator.CoaListener`
answers them in tests. `memory` has in-memory directory and authorizer. The dictionary
(`radius.dictionary`, read by pyrad) names RFC 2865/2866/2869/5176 and MikroTik attributes.
"""
