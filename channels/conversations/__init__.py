"""Subscriber conversations: one engine, flows written once and rendered per channel
(USSD screens, SMS replies, WhatsApp menus), and the providers' inbound callbacks."""
