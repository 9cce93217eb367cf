"""Imports: bringing an ISP's subscribers over from a spreadsheet (CSV)."""
