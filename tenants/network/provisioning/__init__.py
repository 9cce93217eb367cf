"""Desired-state provisioning of api-mode routers.

`desired` computes what a router should hold for one ISP from the database, `diff` compares
that with what the router holds under this ISP's marks and applies only the difference,
`queue` keeps a durable, ordered command queue per router (`router_commands`), and `runner`
applies pending commands: right after a service event, from the per-minute job, and on
"Sync now".
"""
