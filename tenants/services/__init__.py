"""Services: what a subscriber is sold and connected by (a PPPoE line, a hotspot login, a
static address), and their lifecycle: activate, suspend, restore, change package, renew,
expire, terminate — each one transaction that writes ledger entries and outbox events."""
