"""API scopes, and the scopes each staff role holds in the console.

A tenant API key carries some of TENANT_SCOPES; a platform key (no tenant) some of
PLATFORM_SCOPES. Areas add their scopes here, and to the roles that should hold them.
"""

from __future__ import annotations

from kiunga.platform.models import StaffRole

SITES_READ = "sites:read"
SITES_WRITE = "sites:write"
API_KEYS_MANAGE = "api_keys:manage"
PLATFORM_TENANTS = "platform:tenants"
PACKAGES_READ = "packages:read"
PACKAGES_WRITE = "packages:write"
SUBSCRIBERS_READ = "subscribers:read"
SUBSCRIBERS_WRITE = "subscribers:write"
CATALOG_SUBSCRIBER_SCOPES = frozenset(
    {PACKAGES_READ, PACKAGES_WRITE, SUBSCRIBERS_READ, SUBSCRIBERS_WRITE}
)

TENANT_SCOPES: frozenset[str] = frozenset(
    {SITES_READ, SITES_WRITE, API_KEYS_MANAGE} | CATALOG_SUBSCRIBER_SCOPES
)
PLATFORM_SCOPES: frozenset[str] = frozenset({PLATFORM_TENANTS})

ROLE_SCOPES: dict[StaffRole, frozenset[str]] = {
    StaffRole.OWNER: TENANT_SCOPES,
    StaffRole.ADMIN: TENANT_SCOPES,
    StaffRole.FINANCE: frozenset({SITES_READ, PACKAGES_READ, SUBSCRIBERS_READ}),
    # Support signs subscribers up and changes their status; technicians and finance look.
    StaffRole.SUPPORT: frozenset({SITES_READ, PACKAGES_READ, SUBSCRIBERS_READ, SUBSCRIBERS_WRITE}),
    StaffRole.TECHNICIAN: frozenset({SITES_READ, SITES_WRITE, PACKAGES_READ, SUBSCRIBERS_READ}),
}


def allowed_scopes(tenant_id: int | None) -> frozenset[str]:
    """The scopes a key may carry: tenant scopes for a tenant key, platform ones otherwise."""
    return TENANT_SCOPES if tenant_id is not None else PLATFORM_SCOPES


# Tickets: everyone who talks to subscribers or goes out to them; finance only reads reports.
TICKETS_READ = "tickets:read"
TICKETS_WRITE = "tickets:write"
REPORTS_READ = "reports:read"
TICKET_SCOPES = frozenset({TICKETS_READ, TICKETS_WRITE})
TENANT_SCOPES = TENANT_SCOPES | TICKET_SCOPES | {REPORTS_READ}
ROLE_SCOPES[StaffRole.OWNER] = ROLE_SCOPES[StaffRole.OWNER] | TICKET_SCOPES | {REPORTS_READ}
ROLE_SCOPES[StaffRole.ADMIN] = ROLE_SCOPES[StaffRole.ADMIN] | TICKET_SCOPES | {REPORTS_READ}
ROLE_SCOPES[StaffRole.FINANCE] = ROLE_SCOPES[StaffRole.FINANCE] | {REPORTS_READ}
ROLE_SCOPES[StaffRole.SUPPORT] = ROLE_SCOPES[StaffRole.SUPPORT] | TICKET_SCOPES
ROLE_SCOPES[StaffRole.TECHNICIAN] = ROLE_SCOPES[StaffRole.TECHNICIAN] | TICKET_SCOPES


# Billing: owners, admins and finance move money; support looks up balances for callers.
BILLING_READ = "billing:read"
BILLING_WRITE = "billing:write"
BILLING_SCOPES = frozenset({BILLING_READ, BILLING_WRITE})
TENANT_SCOPES = TENANT_SCOPES | BILLING_SCOPES
for _role in (StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE):
    ROLE_SCOPES[_role] = ROLE_SCOPES[_role] | BILLING_SCOPES
ROLE_SCOPES[StaffRole.SUPPORT] = ROLE_SCOPES[StaffRole.SUPPORT] | {BILLING_READ}


# Services: staff who connect subscribers (support, technicians) activate, suspend, restore
# and terminate them at the catalog's price; changing a package (a prorated credit note and
# invoice) or activating a prepaid service on trust also needs billing:write, which only
# owners, admins and finance hold. Finance reads services but does not connect anyone.
SERVICES_READ = "services:read"
SERVICES_WRITE = "services:write"
SERVICE_SCOPES = frozenset({SERVICES_READ, SERVICES_WRITE})
TENANT_SCOPES = TENANT_SCOPES | SERVICE_SCOPES
for _role in (StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.TECHNICIAN):
    ROLE_SCOPES[_role] = ROLE_SCOPES[_role] | SERVICE_SCOPES
ROLE_SCOPES[StaffRole.FINANCE] = ROLE_SCOPES[StaffRole.FINANCE] | {SERVICES_READ}


# M-Pesa: money moves under billing:read/billing:write; the paybill's credentials and
# callback addresses (mpesa:settings) are for owners and admins only.
MPESA_SETTINGS = "mpesa:settings"
TENANT_SCOPES = TENANT_SCOPES | {MPESA_SETTINGS}
for _role in (StaffRole.OWNER, StaffRole.ADMIN):
    ROLE_SCOPES[_role] = ROLE_SCOPES[_role] | {MPESA_SETTINGS}


# Network: routers and their credentials. Owners, admins and technicians set them up;
# support looks (is the caller's router up?).
NETWORK_READ = "network:read"
NETWORK_WRITE = "network:write"
NETWORK_SCOPES = frozenset({NETWORK_READ, NETWORK_WRITE})
TENANT_SCOPES = TENANT_SCOPES | NETWORK_SCOPES
for _role in (StaffRole.OWNER, StaffRole.ADMIN, StaffRole.TECHNICIAN):
    ROLE_SCOPES[_role] = ROLE_SCOPES[_role] | NETWORK_SCOPES
ROLE_SCOPES[StaffRole.SUPPORT] = ROLE_SCOPES[StaffRole.SUPPORT] | {NETWORK_READ}


# Vouchers: owners and admins make, revoke and sell batches; finance looks; support looks
# and sells at the counter. An agent reads and sells only the batches assigned to their
# reseller record (the membership's reseller_id confines them), and holds nothing else.
VOUCHERS_READ = "vouchers:read"
VOUCHERS_WRITE = "vouchers:write"
VOUCHERS_SELL = "vouchers:sell"
VOUCHER_SCOPES = frozenset({VOUCHERS_READ, VOUCHERS_WRITE, VOUCHERS_SELL})
TENANT_SCOPES = TENANT_SCOPES | VOUCHER_SCOPES
for _role in (StaffRole.OWNER, StaffRole.ADMIN):
    ROLE_SCOPES[_role] = ROLE_SCOPES[_role] | VOUCHER_SCOPES
ROLE_SCOPES[StaffRole.FINANCE] = ROLE_SCOPES[StaffRole.FINANCE] | {VOUCHERS_READ}
ROLE_SCOPES[StaffRole.SUPPORT] = ROLE_SCOPES[StaffRole.SUPPORT] | {VOUCHERS_READ, VOUCHERS_SELL}
ROLE_SCOPES[StaffRole.AGENT] = frozenset({VOUCHERS_READ, VOUCHERS_SELL})


# What a reseller's key may hold: the scopes of the routes that confine themselves to the
# caller's fence (reading the catalog, the reseller's own subscribers, their services,
# bills, tickets and vouchers). Every other scope reaches the whole ISP, and a key tied to a
# reseller is refused it when it is made.
RESELLER_SCOPES: frozenset[str] = frozenset(
    {SITES_READ, PACKAGES_READ}
    | CATALOG_SUBSCRIBER_SCOPES - {PACKAGES_WRITE}
    | SERVICE_SCOPES
    | BILLING_SCOPES
    | TICKET_SCOPES
    | {VOUCHERS_READ, VOUCHERS_SELL}
)
ISP_WIDE_SCOPES: frozenset[str] = TENANT_SCOPES - RESELLER_SCOPES
