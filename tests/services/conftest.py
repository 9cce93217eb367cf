"""The services tests use the shared fixtures (tests/fixtures/tenancy.py: a tenant,
transactions on its schema, subscribers, packages, payments, the outbox, the ledger check)."""

from kiunga.tenants.lifecycle import restore as _restore  # noqa: F401  (the payment hook)
