"""Outside systems (Daraja, Africa's Talking, Twilio, RouterOS, RADIUS), one folder each.

Each is a small `Protocol`, a real client and a local emulator that speaks the real wire
protocol. Nothing here imports Kiunga's business code.
"""
