"""The billing pages of the staff console."""
