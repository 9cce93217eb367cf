"""What the subscriber channels (SMS, WhatsApp, USSD) share about the texts they send."""
