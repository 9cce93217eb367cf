"""The one conversation engine: flows written once as named screens, stepped by what the
subscriber typed, rendered per channel (render.py).

A flow is a set of nodes (flows.py): each is `async def node(ctx) -> Screen`. A screen
says what to show, its numbered options (each going to another node, with a little data),
or a handler for typed input, and whether it ends the conversation. The engine keeps the
state between turns (the node, the way back, the data gathered, the language, the
account), and answers every input the same way on every channel:

- "00" goes home, "0" goes back one screen;
- a number of an option follows it; "98" shows more options when a USSD screen had to
  split them;
- typed input goes to the screen's handler, which names the next node or refuses it with
  a hint: the same screen again with that hint;
- anything else: the same screen again with a short hint.

Only a final screen (USSD `END`) acts: a node that changes anything (a ticket, a renewal,
a payment) is final, so a session the network ends early leaves nothing half done. What is
slow (an STK push) is not done in the turn at all: the node asks for it with
`ctx.later(...)`, and the caller emits it after the turn (see actions.py). A node that
writes runs inside a savepoint (the flows name them), so a refusal (a DomainError) undoes
what it wrote and shows the previous screen with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from kiunga.channels.conversations.texts import DEFAULT_LANGUAGE, has_text, translate
from kiunga.platform.errors import DomainError
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.conversations")

HOME = "home"
BACK = "0"
GO_HOME = "00"
MORE = "98"
MAX_STACK = 12
# What a subscriber may type in one turn; more is refused with a hint (a USSD input is
# short anyway; an SMS or a WhatsApp message may be long but no screen needs more).
MAX_INPUT = 500


class Retry(Exception):
    """A handler refusing typed input: the same screen again with this hint (a text)."""

    def __init__(self, hint: str):
        super().__init__(hint)
        self.hint = hint


@dataclass
class Option:
    label: str
    goto: str
    # Put into the conversation's data when chosen (the package picked, the amount…).
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[["Context", str], Awaitable[str]]


@dataclass
class Screen:
    text: str
    options: list[Option] = field(default_factory=list)
    # Typed input (an amount, a receipt code, a name): returns the next node's name.
    expects: Handler | None = None
    final: bool = False
    # Home has no way back to show.
    home: bool = False
    hint: str | None = None


@dataclass
class State:
    """What a conversation keeps between turns (JSON in Redis: see store.py)."""

    node: str = HOME
    stack: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    language: str = DEFAULT_LANGUAGE
    subscriber_id: int | None = None
    # The accounts this phone holds (ids), when it holds several.
    accounts: list[int] = field(default_factory=list)
    page: int = 0
    # The ISP as the subscriber knows it, its currency and time zone (read once).
    isp: str = ""
    zone: str = "Africa/Nairobi"
    turns: int = 0
    # The screen last shown, as far as a numbered answer needs it: each option's node and
    # data, and whether it takes typed input. A choice is then followed without showing
    # the screen again (its reads are not repeated).
    menu: list[list[Any]] = field(default_factory=list)
    typed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "stack": self.stack,
            "data": self.data,
            "language": self.language,
            "subscriber_id": self.subscriber_id,
            "accounts": self.accounts,
            "page": self.page,
            "isp": self.isp,
            "zone": self.zone,
            "turns": self.turns,
            "menu": self.menu,
            "typed": self.typed,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> State:
        return cls(
            node=str(raw.get("node") or HOME),
            stack=[str(n) for n in raw.get("stack") or []][-MAX_STACK:],
            data=dict(raw.get("data") or {}),
            language=str(raw.get("language") or DEFAULT_LANGUAGE),
            subscriber_id=raw.get("subscriber_id"),
            accounts=[int(a) for a in raw.get("accounts") or []],
            page=int(raw.get("page") or 0),
            isp=str(raw.get("isp") or ""),
            zone=str(raw.get("zone") or "Africa/Nairobi"),
            turns=int(raw.get("turns") or 0),
            menu=[list(item) for item in raw.get("menu") or [] if len(item) == 2],
            typed=bool(raw.get("typed")),
        )


@dataclass(frozen=True, slots=True)
class Later:
    """Work to do after the turn (an STK push): its kind and facts, kept small."""

    kind: str
    facts: dict[str, Any]


@dataclass
class Context:
    """One turn: the tenant session (in a transaction), who is speaking on what, and the
    conversation's state."""

    session: AsyncSession
    schema: str
    channel: str  # ussd | sms | whatsapp
    phone: str
    state: State
    network_code: str | None = None
    deferred: list[Later] = field(default_factory=list)
    # What the nodes of this turn read and may share (an account summary read twice).
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    @property
    def language(self) -> str:
        return self.state.language

    @property
    def subscriber_id(self) -> int | None:
        return self.state.subscriber_id

    def t(self, key: str, **values: object) -> str:
        return translate(self.state.language, key, **values)

    def later(self, kind: str, **facts: Any) -> None:
        self.deferred.append(Later(kind, facts))


Node = Callable[[Context], Awaitable[Screen]]


class Flows:
    """The nodes by name; `start` picks the first node of a new conversation."""

    def __init__(
        self,
        nodes: dict[str, Node],
        start: Callable[[Context], Awaitable[str]],
        writers: frozenset[str] = frozenset(),
    ):
        self.nodes = nodes
        self.start = start
        self.writers = writers

    def node(self, name: str) -> Node:
        return self.nodes.get(name) or self.nodes[HOME]


def error_text(ctx: Context, error: DomainError) -> str:
    """A refusal as the subscriber reads it: the catalogue's wording for its field when
    there is one, else the service's own message."""
    key = f"error.{error.field}"
    if has_text(key):
        return ctx.t(key, message=error.message, amount="")
    return ctx.t("error.generic", message=error.message)


class Engine:
    def __init__(self, flows: Flows, pages: Callable[[Screen], int] | None = None):
        self.flows = flows
        # How many pages a screen's options take on this channel (USSD splits them).
        self.pages = pages or (lambda screen: 1)

    async def _show(self, ctx: Context, name: str) -> Screen:
        if name in self.flows.writers:
            async with ctx.session.begin_nested():
                screen = await self.flows.node(name)(ctx)
        else:
            screen = await self.flows.node(name)(ctx)
        ctx.state.menu = [[option.goto, option.data] for option in screen.options]
        ctx.state.typed = screen.expects is not None
        return screen

    async def begin(self, ctx: Context) -> Screen:
        """The first screen of a new conversation."""
        ctx.state.node = await self.flows.start(ctx)
        ctx.state.stack = []
        ctx.state.page = 0
        return await self._show(ctx, ctx.state.node)

    async def go(self, ctx: Context, name: str, *, remember: bool = True) -> Screen:
        """Show node `name` (remembering the way back); a refusal shows where one was."""
        state = ctx.state
        before = (state.node, list(state.stack), state.page)
        if remember and name != state.node and name != HOME:
            state.stack = (state.stack + [state.node])[-MAX_STACK:]
        if name == HOME:
            state.stack = []
        state.node, state.page = name, 0
        try:
            return await self._show(ctx, name)
        except DomainError as error:
            # Undone by the savepoint; back where the subscriber was, told why.
            ctx.deferred.clear()
            state.node, state.stack, state.page = before
            screen = await self._show(ctx, state.node)
            screen.hint = error_text(ctx, error)
            return screen

    async def turn(self, ctx: Context, raw: str) -> Screen:
        """One input in a conversation under way."""
        state = ctx.state
        state.turns += 1
        answer = " ".join(raw.split())
        if answer == GO_HOME:
            return await self.go(ctx, await self.flows.start(ctx), remember=False)
        if answer == BACK:
            previous = state.stack.pop() if state.stack else await self.flows.start(ctx)
            return await self.go(ctx, previous, remember=False)
        menu = state.menu
        if answer.isdigit() and 1 <= len(answer) <= 3 and 1 <= int(answer) <= len(menu):
            # A choice of the screen shown: followed without reading that screen again.
            goto, data = menu[int(answer) - 1]
            state.data.update(data or {})
            return await self.go(ctx, str(goto))
        screen = await self._show(ctx, state.node)
        if len(answer) > MAX_INPUT:
            screen.hint = ctx.t("hint.too_long")
            return screen
        if answer == MORE and screen.options and state.page + 1 < self.pages(screen):
            state.page += 1
            return screen
        if answer.isdigit() and screen.options and 1 <= int(answer) <= len(screen.options):
            chosen = screen.options[int(answer) - 1]
            state.data.update(chosen.data)
            return await self.go(ctx, chosen.goto)
        if screen.expects is not None and answer:
            try:
                async with ctx.session.begin_nested():
                    following = await screen.expects(ctx, answer)
            except Retry as refused:
                screen.hint = refused.hint
                return screen
            except DomainError as error:
                screen.hint = error_text(ctx, error)
                return screen
            return await self.go(ctx, following)
        screen.hint = ctx.t("hint.text" if screen.expects else "hint.choose")
        return screen
