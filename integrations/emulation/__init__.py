"""The scaffolding the HTTP emulators of outside systems (M-Pesa Daraja, Africa's Talking,
Twilio) share, so that each emulator's own folder holds only what its provider does.

- `server`: the emulator as a Litestar app with an HTTP client for the callbacks it POSTs,
  and `ThreadedEmulator`, the app served by uvicorn in a background thread (tests, `kiunga up`).
- `control`: helpers for the /emulator/... control endpoints (a JSON body, a 400 with a
  reason) and the control routes the two messaging emulators have in common (faults, outbox,
  log, health).
- `state`: what the two messaging emulators (Africa's Talking, Twilio) both keep: the outbox
  with its duplicate count, the fault switch and the log of every callback POSTed.

None of this exists at any provider; nothing here imports Kiunga's business code.
"""
