"""Subscribers: the ISP's customers, their contact details and their status history."""
