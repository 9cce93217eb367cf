"""Twilio (WhatsApp): inbound webhooks checked with Twilio's own RequestValidator, messages
sent through the official `twilio` SDK, and a local emulator of Twilio's Messages API and of
the webhooks and status callbacks it POSTs, for tests and local runs."""
