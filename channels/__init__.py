"""Subscriber conversations (USSD, SMS, WhatsApp) and the hotspot captive portal.

Depends on `kiunga.tenants` and `kiunga.platform`; nothing in `tenants` imports from here.
"""
