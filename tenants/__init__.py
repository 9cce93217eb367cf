"""The ISP business, one folder per area; its tables live in each tenant's schema.

A service function takes the tenant session explicitly; nothing reads a tenant from a
global. `kiunga.tenants.models` imports every area's models for the migrations.
"""
