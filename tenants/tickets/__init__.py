"""Tickets: support requests from subscribers (or raised internally) and their threads."""
