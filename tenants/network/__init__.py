"""Network: the ISP's routers (MikroTik over the RouterOS API, or as RADIUS clients)."""
