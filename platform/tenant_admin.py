"""Creating, listing and disabling tenants (ISPs): shared by the CLI and the platform API.

A tenant is created in one transaction: its platform rows, its owner, its schema and its
migrations. If any step fails nothing is left behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiunga.platform.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.naming import InvalidSlug, schema_for_slug, validate_slug
from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.migrate import (
    ALL_HEADS,
    tenant_heads,
    tenant_versions,
    upgrade_tenant_schema,
)
from kiunga.platform.models import (
    DomainKind,
    StaffAccount,
    StaffRole,
    Tenant,
    TenantDomain,
    TenantMembership,
    TenantStatus,
)
from kiunga.platform.tenant_schema import create_tenant_schema
from psycopg.errors import DuplicateSchema
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A DNS name: dot-separated labels of letters, digits and inner hyphens; a letter-led TLD.
HOST_PATTERN = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)


class TenantError(DomainError, ValueError):
    """Bad input for a tenant; `field` names what was wrong."""


class TenantExists(TenantError):
    kind = Kind.CONFLICT


class TenantNotFound(NotFoundError):
    pass


@dataclass(frozen=True)
class CreatedTenant:
    id: int
    slug: str
    name: str
    schema: str
    host: str
    owner_email: str
    # Set only when an account was created with a generated password, to show it once.
    owner_password: str | None


def normalise_email(email: str, field: str = "owner_email") -> str:
    email = (email or "").strip().lower()
    if not EMAIL_PATTERN.match(email) or len(email) > 254:
        raise TenantError(field, f"{field.replace('_', ' ')} is not a valid address")
    return email


def validate_new_tenant(slug: str, name: str, owner_email: str) -> tuple[str, str, str]:
    try:
        slug = validate_slug(slug)
    except InvalidSlug as exc:
        raise TenantError("slug", str(exc)) from exc
    name = (name or "").strip()
    if not name:
        raise TenantError("name", "name is required")
    if len(name) > 200:
        raise TenantError("name", "name must be at most 200 characters")
    return slug, name, normalise_email(owner_email)


def create_tenant(
    engine: Engine,
    *,
    slug: str,
    name: str,
    owner_email: str,
    base_domain: str,
    owner_password: str | None = None,
    target_revision: str = ALL_HEADS,
) -> CreatedTenant:
    """Create a tenant at `target_revision` (tests and benchmarks use an older one).

    The schema is built by the same Alembic upgrade that `kiunga migrate` runs (replayed
    from a recording after the first creation in a process), so a new tenant cannot differ
    from an old one brought up to date (a test compares the two).
    """
    slug, name, owner_email = validate_new_tenant(slug, name, owner_email)
    if owner_password is not None and len(owner_password) < MIN_PASSWORD_LENGTH:
        raise TenantError(
            "owner_password", f"password must be at least {MIN_PASSWORD_LENGTH} characters"
        )
    schema = schema_for_slug(slug)
    host = f"{slug}.{base_domain}"
    generated: str | None = None
    try:
        with Session(engine) as session, session.begin():
            if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
                raise TenantExists("slug", f"a tenant with slug {slug!r} already exists")
            tenant = Tenant(slug=slug, name=name, schema_name=schema, status=TenantStatus.ACTIVE)
            tenant.domains.append(
                TenantDomain(host=host, kind=DomainKind.SUBDOMAIN, is_primary=True)
            )
            session.add(tenant)
            owner = session.scalar(select(StaffAccount).where(StaffAccount.email == owner_email))
            if owner is None:
                if owner_password is None:
                    generated = generate_password()
                owner = StaffAccount(
                    email=owner_email,
                    password_hash=hash_password(owner_password or generated),
                )
                session.add(owner)
            session.flush()
            session.add(
                TenantMembership(staff_id=owner.id, tenant_id=tenant.id, role=StaffRole.OWNER)
            )
            # Plain CREATE SCHEMA, not IF NOT EXISTS: a schema left behind by a removed tenant
            # must never be handed, data and all, to a new ISP that picked the same slug.
            session.execute(text(f'CREATE SCHEMA "{schema}"'))
            if target_revision == ALL_HEADS:
                create_tenant_schema(session.connection(), schema)
            else:
                upgrade_tenant_schema(session.connection(), schema, target_revision)
            created = CreatedTenant(
                id=tenant.id,
                slug=slug,
                name=name,
                schema=schema,
                host=host,
                owner_email=owner_email,
                owner_password=generated,
            )
    except ProgrammingError as exc:
        if isinstance(exc.orig, DuplicateSchema):
            raise TenantExists(
                "slug", f"schema {schema!r} already exists; remove it or choose another slug"
            ) from exc
        raise
    except IntegrityError as exc:
        # Two creations racing: the loser lands here.
        raise _conflict(exc, slug, host, owner_email) from exc
    return created


def _conflict(exc: IntegrityError, slug: str, host: str, owner_email: str) -> TenantError:
    constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or ""
    if "host" in constraint:
        return TenantExists("slug", f"host {host!r} is already in use")
    if "email" in constraint:
        return TenantError("owner_email", f"{owner_email!r} was registered at the same time; retry")
    return TenantExists("slug", f"a tenant with slug {slug!r} already exists")


def list_tenants(engine: Engine) -> list[Tenant]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


@dataclass(frozen=True)
class TenantOverview:
    slug: str
    name: str
    status: TenantStatus
    schema: str
    hosts: tuple[str, ...]
    versions: frozenset[str]  # empty: the schema has no version table (or no schema)
    at_head: bool


def tenant_overview(engine: Engine) -> list[TenantOverview]:
    """Every tenant with its hosts and migration state, read in a few queries."""
    tenants = list_tenants(engine)
    with engine.connect() as connection:
        versions = tenant_versions(connection, [tenant.schema_name for tenant in tenants])
    heads = tenant_heads()
    return [
        TenantOverview(
            slug=tenant.slug,
            name=tenant.name,
            status=tenant.status,
            schema=tenant.schema_name,
            hosts=tuple(
                domain.host
                for domain in sorted(tenant.domains, key=lambda d: (not d.is_primary, d.host))
            ),
            versions=versions[tenant.schema_name],
            at_head=versions[tenant.schema_name] == heads,
        )
        for tenant in tenants
    ]


def set_tenant_status(engine: Engine, slug: str, status: TenantStatus) -> Tenant:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
        if tenant is None:
            raise TenantNotFound(f"no tenant with slug {slug!r}")
        tenant.status = status
        tenant.disabled_at = utcnow() if status is TenantStatus.DISABLED else None
        return tenant


def validate_custom_host(host: str, base_domain: str) -> str:
    host = (host or "").strip().lower().rstrip(".")
    if not HOST_PATTERN.match(host):
        raise TenantError("host", f"{host!r} is not a valid host name")
    if host == base_domain or host.endswith("." + base_domain):
        # Sub-domains of the base domain belong to slugs; claiming one would take another
        # ISP's address.
        raise TenantError("host", f"hosts under {base_domain!r} are assigned by slug")
    return host


def add_tenant_domain(engine: Engine, slug: str, host: str, *, base_domain: str) -> str:
    """Attach a custom domain to a tenant; returns the normalised host."""
    host = validate_custom_host(host, base_domain)
    try:
        with Session(engine) as session, session.begin():
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == slug))
            if tenant_id is None:
                raise TenantNotFound(f"no tenant with slug {slug!r}")
            session.add(TenantDomain(tenant_id=tenant_id, host=host, kind=DomainKind.CUSTOM))
    except IntegrityError as exc:
        raise TenantExists("host", f"host {host!r} is already in use") from exc
    return host
