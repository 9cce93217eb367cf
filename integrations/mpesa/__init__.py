"""Safaricom Daraja (M-Pesa): callback parsing, an async client and a local emulator.

`callbacks` reads what Daraja POSTs to us; `client` calls Daraja; `emulator` is a real HTTP
server speaking Daraja's JSON, for tests and local runs.
"""
