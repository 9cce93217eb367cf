"""The captive portal: the hotspot user's pages on the ISP's host under /portal/, reached
through a MikroTik router's external login page (login.html posts the router's parameters
here; the portal logs the device in by posting back to the router's link-login-only)."""
