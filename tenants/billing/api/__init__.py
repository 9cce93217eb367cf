"""The billing REST API under /api/v1."""
