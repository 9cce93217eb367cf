"""The subscriber's own web pages on the ISP's host (/me): signed in by a one-time code."""
