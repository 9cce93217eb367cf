"""What a subscriber can do for themselves, once, for every channel: the conversation
flows (USSD, SMS, WhatsApp) and the /me pages call these functions and render their
results. Each is built on the service functions of the areas that own the rule (billing,
services, M-Pesa, the portal's purchases, tickets, subscribers); nothing here moves money,
issues a voucher or opens a ticket any other way.

Session-taking functions only flush: the caller's unit of work commits. The few that talk
to Daraja (`ask_payment`, `buy_voucher`) take the database and schema instead, because they
commit before calling out and must not hold a transaction while Safaricom answers.
"""
