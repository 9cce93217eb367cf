"""Africa's Talking: USSD and SMS callbacks read from AT's form encoding, SMS sent through
AT's own SDK, and a local emulator of AT (its SMS API, and the USSD, SMS and delivery-report
callbacks it POSTs) for tests and local runs."""
