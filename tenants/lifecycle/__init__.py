"""The automatic lifecycle: a per-tenant periodic run that renews, expires, bills, suspends
and reminds, and the payment hook that restores service in the payment's own transaction."""
