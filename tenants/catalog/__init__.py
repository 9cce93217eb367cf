"""Catalog: the packages an ISP sells (home plans, hotspot hours, static-IP links)."""
