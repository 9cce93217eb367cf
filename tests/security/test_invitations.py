"""Giving an agent a login: an invitation link, which reveals nothing about existing
accounts and ties an existing account to the ISP only with that account's password."""

from __future__ import annotations

import re

from kiunga.platform.models import StaffAccount, TenantMembership
from sqlalchemy import select
from sqlalchemy.orm import Session

LINK = re.compile(r'<code class="invitation-link">([^<]+)</code>')
OWNER_PASSWORD = "correct horse battery"


def memberships(engine, email: str) -> set[int]:
    with Session(engine) as session:
        return set(
            session.scalars(
                select(TenantMembership.tenant_id)
                .join(StaffAccount, StaffAccount.id == TenantMembership.staff_id)
                .where(StaffAccount.email == email)
            )
        )


async def invite(owner, csrf_token_in, email: str, reseller_id: int):
    page = await owner.get("/vouchers/agents")
    return await owner.post(
        "/vouchers/agents/logins",
        data={
            "email": email,
            "reseller_id": str(reseller_id),
            "_csrf_token": csrf_token_in(page.text),
        },
    )


def without_the_invitation(html: str, email: str) -> str:
    html = LINK.sub("LINK", html).replace(email, "EMAIL")
    return re.sub(r'name="_csrf_token" value="[^"]+"', "", html)


async def test_inviting_another_isps_owner_reveals_nothing_and_attaches_nothing(
    make_tenant, add_reseller, client_for, login, csrf_token_in, engine
):
    mine, theirs = make_tenant("inv"), make_tenant("inv")
    reseller_id = add_reseller(mine)
    owner = client_for(mine.host)
    assert (await login(owner, mine.owner_email)).status_code == 303

    existing = await invite(owner, csrf_token_in, theirs.owner_email, reseller_id)
    fresh_email = f"new-agent@{mine.slug}.example"
    fresh = await invite(owner, csrf_token_in, fresh_email, reseller_id)
    assert existing.status_code == fresh.status_code == 200, existing.text
    assert without_the_invitation(existing.text, theirs.owner_email) == without_the_invitation(
        fresh.text, fresh_email
    )
    assert memberships(engine, theirs.owner_email) == {theirs.id}

    # The link asks for the existing account's password; a guess is refused.
    link = LINK.search(existing.text).group(1)
    stranger = client_for(mine.host, client_ip="203.0.113.9")
    opened = await stranger.get(link)
    assert opened.status_code == 200 and 'autocomplete="current-password"' in opened.text
    guess = await stranger.post(
        link, data={"password": "a guess of someone", "_csrf_token": csrf_token_in(opened.text)}
    )
    assert guess.status_code == 400
    assert memberships(engine, theirs.owner_email) == {theirs.id}

    # On another ISP's host the link is nothing.
    assert (await client_for(theirs.host).get(link.split(mine.host, 1)[1])).status_code == 404

    # Its holder confirms with their own password and then works at both ISPs.
    holder = client_for(mine.host)
    page = await holder.get(link)
    confirmed = await holder.post(
        link, data={"password": OWNER_PASSWORD, "_csrf_token": csrf_token_in(page.text)}
    )
    assert confirmed.status_code == 303, confirmed.text
    assert memberships(engine, theirs.owner_email) == {theirs.id, mine.id}
    assert (await login(holder, theirs.owner_email)).status_code == 303
    assert (await holder.get("/vouchers/agents")).status_code == 200


async def test_a_new_agent_chooses_their_own_password(
    make_tenant, add_reseller, client_for, login, csrf_token_in, engine
):
    tenant = make_tenant("inv")
    reseller_id = add_reseller(tenant)
    owner = client_for(tenant.host)
    assert (await login(owner, tenant.owner_email)).status_code == 303
    email = f"kiosk@{tenant.slug}.example"
    invited = await invite(owner, csrf_token_in, email, reseller_id)
    assert "shown this once" not in invited.text  # no password travels through the inviter
    with Session(engine) as session:
        assert session.scalar(select(StaffAccount).where(StaffAccount.email == email)) is None

    link = LINK.search(invited.text).group(1)
    agent = client_for(tenant.host)
    page = await agent.get(link)
    assert 'autocomplete="new-password"' in page.text
    short = await agent.post(
        link, data={"password": "short", "_csrf_token": csrf_token_in(page.text)}
    )
    assert short.status_code == 400
    chosen = await agent.post(
        link, data={"password": "kiosk's own password", "_csrf_token": csrf_token_in(page.text)}
    )
    assert chosen.status_code == 303
    assert memberships(engine, email) == {tenant.id}
    assert (await login(agent, email, "kiosk's own password")).status_code == 303
