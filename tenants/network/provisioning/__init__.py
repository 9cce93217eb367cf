"""Desired-state provisioning of api-mode routers.

`desired` computes what a router should hold for one ISP from the database (and which
routers hold which service); `diff` compares that with what the router holds under this
ISP's marks and applies only the difference; `models` and `queue` keep a durable, ordered
command queue per router (`router_commands`); `runner` applies pending commands; `jobs`
runs it after each service or router event and every minute (a full reconciliation every
15 minutes); `api` and `console` show a router's queue and offer "Sync now".
"""
