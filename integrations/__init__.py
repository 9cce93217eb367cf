"""Outside systems (Daraja, Africa's Talking, Twilio, RouterOS, RADIUS), one folder each.

Each is a small `Protocol`, a real client and a local emulator that speaks the real wire
protocol. Nothing here imports Kiunga's business code.

What the HTTP emulators (Daraja, Africa's Talking, Twilio) share is in `emulation` (the
threaded server, the control helpers, the messaging emulators' outbox, faults and log); the
strict form-field readers of the two messaging providers' callbacks are in `forms_common`.
"""
