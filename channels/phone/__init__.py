"""The development console's phone simulator: dial, text or WhatsApp the ISP through the
Africa's Talking and Twilio emulators, and read the replies."""
