"""Hotspot vouchers: batches, codes, agents' sales and commission, redemption, and the
M-Pesa purchases the captive portal makes."""
