"""Panels on a subscriber's console page, contributed by other areas.

A subscriber's page shows what other areas know of them (the messages sent and received,
say) without the subscribers area importing those areas: an area lists a
`SubscriberPanel` in its manifest as a hook of kind `SUBSCRIBER_PANEL`,

    hooks=(Hook(SUBSCRIBER_PANEL, MESSAGES_PANEL),)

and the page shows each listed panel, in the order of the areas, to staff holding the
panel's scope. A panel loads its own rows from the tenant session and renders them with a
template from its own area's template folder; when its area is not assembled, the page
simply has no such panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiunga.platform.hooks import hooks_for
from sqlalchemy.ext.asyncio import AsyncSession

SUBSCRIBER_PANEL = "subscribers.panel"


@dataclass(frozen=True)
class PanelRequest:
    """What a panel is given: the ISP's session and the subscriber whose page it is."""

    session: AsyncSession
    subscriber_id: int


@dataclass(frozen=True)
class SubscriberPanel:
    """A panel an area adds to every subscriber's page.

    `scope`: staff without it never see the panel, and its rows are not even read.
    `load(request)`: the template's values (a mapping), read from `request.session`.
    `template`: rendered inside the panel's card with `panel` (the values above as
    `panel.values`, and `panel.title`) and the page's own context (`tenant`, `subscriber`).
    """

    name: str
    title: str
    scope: str
    template: str
    load: Callable[[PanelRequest], Awaitable[Mapping[str, Any]]]

    async def __call__(self, request: PanelRequest) -> ShownPanel:
        return ShownPanel(self.name, self.title, self.template, await self.load(request))


@dataclass(frozen=True)
class ShownPanel:
    name: str
    title: str
    template: str
    values: Mapping[str, Any] = field(default_factory=dict)


def contributed_panels() -> tuple[SubscriberPanel, ...]:
    found = hooks_for(SUBSCRIBER_PANEL)
    for panel in found:
        if not isinstance(panel, SubscriberPanel):
            raise TypeError(f"a {SUBSCRIBER_PANEL} hook must be a SubscriberPanel: {panel!r}")
    return found  # type: ignore[return-value]


async def panels_for(
    session: AsyncSession, subscriber_id: int, scopes: Collection[str]
) -> list[ShownPanel]:
    """The panels this member of staff may see on the subscriber's page, loaded."""
    request = PanelRequest(session, subscriber_id)
    shown = []
    for panel in contributed_panels():
        if panel.scope in scopes:
            shown.append(await panel(request))
    return shown
