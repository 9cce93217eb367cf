"""The subscriber's flows, written once for USSD, SMS and WhatsApp: home, my account, pay,
buy a voucher, renew or change package, report a problem and ticket status, talk to a
person, register interest, "I already paid", language and marketing.

Every rule lives in the self-service layer (kiunga.channels.selfservice), which the /me
pages use too; a node here only asks it and words the answer from the catalogue. Nodes
that change something are final screens (see engine.py); an STK push is asked for with
`ctx.later` and sent after the turn (actions.py).
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kiunga.channels.conversations.engine import HOME, Context, Flows, Option, Retry, Screen
from kiunga.channels.conversations.keywords import matches_package
from kiunga.channels.conversations.texts import language_or_default, languages
from kiunga.channels.selfservice import accounts as selfaccounts
from kiunga.channels.selfservice import contacts, packages, payments, tickets, vouchers
from kiunga.channels.selfservice.errors import SelfServiceError
from kiunga.platform.models import Tenant
from kiunga.platform.money import format_money
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.tenants.mpesa.config import settings_row
from kiunga.tenants.mpesa.models import ShortcodeType
from kiunga.tenants.tickets.models import TicketCategory
from sqlalchemy import select

# Africa's Talking's networkCode for Safaricom: the only network M-Pesa prompts reach.
SAFARICOM = "63902"
OTHER_NETWORKS = frozenset({"63903", "63907"})  # Airtel, Telkom
MAX_NAME = 120
MAX_TEXT = 500
DEFAULT_ZONE = "Africa/Nairobi"
# Where the account summary waits in the conversation's data between turns.
SUMMARY_KEY = "summary"
SUMMARY_SECONDS = 180
# What every session's first or last hop would otherwise read, per ISP schema, for a short
# while (a renamed ISP or a new paybill shows within a minute).
ISP_CACHE_SECONDS = 60
_ISPS: TtlCache[str, tuple[str, str]] = TtlCache(ISP_CACHE_SECONDS, max_entries=5_000)
_MPESA: TtlCache[str, tuple | None] = TtlCache(ISP_CACHE_SECONDS, max_entries=5_000)


# ---------------------------------------------------------------- helpers


def money(amount: int | None, currency: str = "KES") -> str:
    return format_money(amount or 0, currency or "KES", short=True)


def day(ctx: Context, moment: datetime | None) -> str:
    if moment is None:
        return ctx.t("common.none")
    return moment.astimezone(ZoneInfo(ctx.state.zone)).strftime("%d/%m/%Y")


def local_phone(phone: str) -> str:
    """+254712345678 as people write it at home: 0712345678."""
    return "0" + phone[4:] if phone.startswith("+254") else phone


def on_other_network(ctx: Context) -> bool:
    return (ctx.network_code or "") in OTHER_NETWORKS


def _summary_json(summary: selfaccounts.AccountSummary) -> dict[str, Any]:
    raw = dataclasses.asdict(summary)
    raw["expires_at"] = summary.expires_at.isoformat() if summary.expires_at else None
    if summary.last_payment is not None:
        raw["last_payment"]["received_at"] = summary.last_payment.received_at.isoformat()
    return raw


def _summary_from(raw: dict[str, Any]) -> selfaccounts.AccountSummary:
    raw = dict(raw)
    if raw.get("expires_at"):
        raw["expires_at"] = datetime.fromisoformat(raw["expires_at"])
    if raw.get("last_payment"):
        last = dict(raw["last_payment"])
        last["received_at"] = datetime.fromisoformat(last["received_at"])
        raw["last_payment"] = selfaccounts.LastPayment(**last)
    return selfaccounts.AccountSummary(**raw)


async def summary_of(ctx: Context) -> selfaccounts.AccountSummary:
    """The account's summary, read once a conversation (kept with its state for at most
    SUMMARY_SECONDS, about a USSD session): what the account screen shows may be that
    old. Where money is asked for, its figures are read again (money_of)."""
    subscriber_id = need_account(ctx)
    kept = ctx.data.get(SUMMARY_KEY)
    if (
        isinstance(kept, dict)
        and kept.get("summary", {}).get("subscriber_id") == subscriber_id
        and 0 <= time.time() - float(kept.get("read_at") or 0) < SUMMARY_SECONDS
    ):
        try:
            return _summary_from(kept["summary"])
        except (TypeError, ValueError, KeyError):
            pass  # kept by an older version: read afresh
    summary = await selfaccounts.account_summary(ctx.session, subscriber_id)
    ctx.memo[f"money:{subscriber_id}"] = selfaccounts.MoneyNow(
        summary.balance, summary.amount_due, summary.suggested_payment
    )
    ctx.data[SUMMARY_KEY] = {"summary": _summary_json(summary), "read_at": time.time()}
    # Kept for the screens after this one (a confirmation names the account).
    ctx.data.update(account_number=summary.account_number, currency=summary.currency)
    return summary


async def money_of(ctx: Context) -> selfaccounts.MoneyNow:
    """The account's balance and what is due as they stand now (read once a turn; a
    summary read in this turn has them)."""
    summary = await summary_of(ctx)
    key = f"money:{summary.subscriber_id}"
    if key not in ctx.memo:
        ctx.memo[key] = await selfaccounts.money_now(ctx.session, summary)
    return ctx.memo[key]


async def _mpesa(ctx: Context) -> tuple[ShortcodeType, str, str | None] | None:
    """The ISP's shortcode type, shortcode and till, cached briefly (as the portal does)."""
    known = _MPESA.get(ctx.schema)
    if known is ABSENT:
        row = await settings_row(ctx.session)
        known = (
            (row.shortcode_type, row.shortcode, row.till_number)
            if row is not None and row.shortcode
            else None
        )
        _MPESA.set(ctx.schema, known)
    return known


async def how_to_pay(ctx: Context, amount: int) -> selfaccounts.PayByHand:
    """The paybill (or till) and account to pay by hand, as payment_instructions says it,
    from the account number this conversation already read and the ISP's M-Pesa settings
    (cached briefly): it is on the last screen of every payment."""
    account_number = ctx.data.get("account_number")
    if not account_number:
        return await selfaccounts.payment_instructions(ctx.session, need_account(ctx))
    mpesa = await _mpesa(ctx)
    if mpesa is None:
        raise SelfServiceError("mpesa", "this provider does not take M-Pesa payments yet")
    shortcode_type, shortcode, till = mpesa
    currency = str(ctx.data.get("currency") or "KES")
    if shortcode_type is ShortcodeType.PAYBILL:
        return selfaccounts.PayByHand("paybill", shortcode, account_number, amount, currency)
    return selfaccounts.PayByHand("till", till or shortcode, None, amount, currency)


def need_account(ctx: Context) -> int:
    if ctx.subscriber_id is None:
        raise SelfServiceError("subscriber_id", "this phone is not on an account")
    return ctx.subscriber_id


def shillings(raw: str) -> int:
    """A typed amount ("500", "1,500", "KES 500", "500.00") in minor units."""
    text = raw.upper().replace("KES", "").replace("KSH", "").replace(",", "").strip()
    if text.endswith(".00"):
        text = text[:-3]
    if not text.isdigit() or len(text) > 9:
        raise ValueError(raw)
    return int(text) * 100


# ---------------------------------------------------------------- start and home


async def _isp(ctx: Context) -> tuple[str, str]:
    """The ISP's name and time zone, cached briefly (they seldom change)."""
    known = _ISPS.get(ctx.schema)
    if known is ABSENT:
        row = (
            await ctx.session.execute(
                select(Tenant.name, Tenant.timezone).where(Tenant.schema_name == ctx.schema)
            )
        ).first()
        known = (row.name, row.timezone or DEFAULT_ZONE) if row else ("", DEFAULT_ZONE)
        _ISPS.set(ctx.schema, known)
    return known


async def start(ctx: Context) -> str:
    """Who is speaking: the phone's account (or the one it chose), its language."""
    state, session = ctx.state, ctx.session
    if not state.isp:
        state.isp, state.zone = await _isp(ctx)
    speakers = await selfaccounts.speakers_for_phone(session, ctx.phone)
    ids = [speaker.account.subscriber_id for speaker in speakers]
    # What the phone chose (an account among several, its language without an account):
    # not needed by a phone on exactly one account.
    prefs = None if len(ids) == 1 else await contacts.contact_prefs(session, ctx.phone)
    if state.subscriber_id not in ids:
        state.subscriber_id = None
        if len(ids) == 1:
            state.subscriber_id = ids[0]
        elif prefs is not None and prefs.chosen_subscriber_id in ids:
            state.subscriber_id = prefs.chosen_subscriber_id
    state.accounts = ids if len(ids) > 1 else []
    speaker = next((s for s in speakers if s.account.subscriber_id == state.subscriber_id), None)
    if not state.data.get("language_chosen"):
        if speaker is not None:
            language = speaker.language
        else:
            language = prefs.language if prefs is not None else None
        language = getattr(language, "value", language) or state.data.get("language_hint")
        state.language = language_or_default(language)
    if state.subscriber_id is None and len(ids) > 1:
        return "choose_account"
    state.data["name"] = speaker.account.name if speaker is not None else ""
    return HOME


async def home(ctx: Context) -> Screen:
    t = ctx.t
    if ctx.subscriber_id is None:
        return Screen(
            t("home.guest_title", isp=ctx.state.isp),
            [
                Option(t("home.register"), "register"),
                Option(t("home.voucher"), "voucher"),
                Option(t("home.person"), "person"),
                Option(t("home.settings"), "settings"),
            ],
            home=True,
        )
    name = str(ctx.data.get("name") or "").split(" ")[0]
    return Screen(
        t("home.title", isp=ctx.state.isp, name=name),
        [
            Option(t("home.account"), "account"),
            Option(t("home.pay"), "pay"),
            Option(t("home.voucher"), "voucher"),
            Option(t("home.renew"), "renew"),
            Option(t("home.problem"), "problem"),
            Option(t("home.tickets"), "tickets"),
            Option(t("home.person"), "person"),
            Option(t("home.paid"), "paid"),
            Option(t("home.settings"), "settings"),
        ],
        home=True,
    )


async def choose_account(ctx: Context) -> Screen:
    rows = await selfaccounts.accounts_for_phone(ctx.session, ctx.phone)
    return Screen(
        ctx.t("accounts.title"),
        [
            Option(
                ctx.t("accounts.item", account=row.account_number, name=row.name),
                "account_chosen",
                {"pick": row.subscriber_id},
            )
            for row in rows
        ],
        home=True,
    )


async def account_chosen(ctx: Context) -> Screen:
    account = await selfaccounts.choose_account(
        ctx.session, phone=ctx.phone, subscriber_id=ctx.data.get("pick")
    )
    ctx.state.subscriber_id = account.subscriber_id
    ctx.state.data["name"] = account.name
    ctx.state.node, ctx.state.stack = HOME, []
    return await home(ctx)


# ---------------------------------------------------------------- my account


async def account(ctx: Context) -> Screen:
    summary = await summary_of(ctx)
    currency = summary.currency
    last = (
        ctx.t(
            "account.last",
            amount=money(summary.last_payment.amount, currency),
            date=day(ctx, summary.last_payment.received_at),
        )
        if summary.last_payment
        else ctx.t("common.never")
    )
    status = summary.service_status or summary.status
    package = summary.package_name_sw if ctx.language == "sw" else summary.package_name
    values = {
        "name": summary.name,
        "account": summary.account_number,
        "status": ctx.t(f"status.{status}"),
        "package": package,
        "expiry": day(ctx, summary.expires_at),
        "balance": money(summary.balance, currency),
        "due": money(summary.amount_due, currency),
        "last": last,
    }
    key = "account.summary" if summary.package_name else "account.no_service"
    return Screen(ctx.t(key, **values), [Option(ctx.t("account.pay"), "pay")])


# ---------------------------------------------------------------- pay


async def pay(ctx: Context) -> Screen:
    summary = await summary_of(ctx)
    ctx.data["currency"] = summary.currency
    t = ctx.t
    if on_other_network(ctx):
        return Screen(
            t("pay.other_network"),
            [
                Option(t("pay.by_hand"), "pay_by_hand"),
                Option(t("pay.someone"), "pay_someone"),
                Option(t("pay.agent"), "pay_agent"),
            ],
        )
    options = []
    suggested = (await money_of(ctx)).suggested_payment
    if suggested > 0:
        options.append(
            Option(
                t("pay.amount_due", amount=money(suggested, summary.currency)),
                "pay_confirm",
                {"amount": suggested},
            )
        )
    options += [Option(t("pay.other"), "pay_amount"), Option(t("pay.by_hand"), "pay_by_hand")]
    return Screen(t("pay.title", account=summary.account_number), options)


async def _take_amount(ctx: Context, answer: str) -> str:
    try:
        amount = payments.payment_amount(shillings(answer))
    except (ValueError, SelfServiceError):
        raise Retry(ctx.t("hint.amount")) from None
    ctx.data["amount"] = amount
    return "pay_confirm"


async def pay_amount(ctx: Context) -> Screen:
    return Screen(ctx.t("pay.enter_amount"), expects=_take_amount)


async def pay_confirm(ctx: Context) -> Screen:
    amount = payments.payment_amount(ctx.data.get("amount"))
    if not ctx.data.get("account_number"):
        await summary_of(ctx)
    return Screen(
        ctx.t(
            "pay.confirm",
            amount=money(amount, ctx.data.get("currency", "KES")),
            account=ctx.data["account_number"],
            phone=local_phone(ctx.phone),
        ),
        [Option(ctx.t("common.confirm"), "pay_sent")],
    )


def _by_hand(ctx: Context, how: selfaccounts.PayByHand, amount: int, paybill_key: str) -> str:
    till_key = {
        "pay.by_hand_text": "pay.by_hand_till",
        "pay.someone_text": "pay.someone_till",
        "pay.prompt_coming": "pay.prompt_coming_till",
    }[paybill_key]
    shown = money(amount, how.currency)
    if how.method == "paybill":
        return ctx.t(
            paybill_key, paybill=how.business_number, account=how.account_number, amount=shown
        )
    return ctx.t(till_key, till=how.business_number, amount=shown)


async def pay_sent(ctx: Context) -> Screen:
    """Final: the prompt is sent after the session (a phone shows no STK prompt while a
    USSD session is open); the paybill is the fallback."""
    subscriber_id = need_account(ctx)
    amount = payments.payment_amount(ctx.data.get("amount"))
    how = await how_to_pay(ctx, amount)
    ctx.later(
        "pay", subscriber_id=subscriber_id, phone=ctx.phone, amount=amount, language=ctx.language
    )
    return Screen(_by_hand(ctx, how, amount, "pay.prompt_coming"), final=True)


async def pay_by_hand(ctx: Context) -> Screen:
    how = await selfaccounts.payment_instructions(ctx.session, need_account(ctx))
    return Screen(_by_hand(ctx, how, how.suggested_amount, "pay.by_hand_text"), final=True)


async def pay_someone(ctx: Context) -> Screen:
    how = await selfaccounts.payment_instructions(ctx.session, need_account(ctx))
    return Screen(_by_hand(ctx, how, how.suggested_amount, "pay.someone_text"), final=True)


async def pay_agent(ctx: Context) -> Screen:
    return Screen(ctx.t("pay.agent_text"), final=True)


# ---------------------------------------------------------------- hotspot voucher


async def voucher(ctx: Context) -> Screen:
    if on_other_network(ctx):
        return Screen(ctx.t("voucher.other_network"), final=True)
    offers = await vouchers.voucher_offers(ctx.session, ctx.language)
    if not offers:
        return Screen(ctx.t("error.no_packages"))
    return Screen(
        ctx.t("voucher.title"),
        [
            Option(
                ctx.t("voucher.item", name=offer.name, price=money(offer.price, offer.currency)),
                "voucher_confirm",
                {
                    "package_id": offer.package_id,
                    "package_name": offer.name,
                    "price": offer.price,
                    "currency": offer.currency,
                },
            )
            for offer in offers
        ],
    )


async def voucher_confirm(ctx: Context) -> Screen:
    key = "voucher.confirm_wa" if ctx.channel == "whatsapp" else "voucher.confirm"
    price = money(ctx.data.get("price"), ctx.data.get("currency", "KES"))
    return Screen(
        ctx.t(key, name=ctx.data.get("package_name", ""), price=price),
        [Option(ctx.t("common.confirm"), "voucher_sent")],
    )


async def voucher_sent(ctx: Context) -> Screen:
    package_id = ctx.data.get("package_id")
    if not isinstance(package_id, int):
        raise SelfServiceError("package_id", "choose a package")
    ctx.later("voucher", phone=ctx.phone, package_id=package_id, language=ctx.language)
    price = money(ctx.data.get("price"), ctx.data.get("currency", "KES"))
    return Screen(ctx.t("voucher.prompt_coming", price=price), final=True)


# ---------------------------------------------------------------- renew / change package


async def renew(ctx: Context) -> Screen:
    summary = await summary_of(ctx)
    if summary.service_id is None:
        return Screen(ctx.t("error.no_service"))
    if summary.billing_type != "prepaid":
        return Screen(ctx.t("error.postpaid"))
    package = summary.package_name_sw if ctx.language == "sw" else summary.package_name
    return Screen(
        ctx.t("renew.title", package=package),
        [
            Option(ctx.t("renew.renew"), "renew_quote"),
            Option(ctx.t("renew.change"), "change_list"),
        ],
    )


def _package_name(ctx: Context, quote: packages.Quote) -> str:
    return quote.package_name_sw if ctx.language == "sw" else quote.package_name


def _quote_screen(ctx: Context, quote: packages.Quote, text_key: str, done: str) -> Screen:
    ctx.data["quote"] = quote.token
    name = _package_name(ctx, quote)
    if quote.to_pay > 0:
        return Screen(
            ctx.t(
                "renew.pay_first",
                package=name,
                charge=money(quote.charge, quote.currency),
                to_pay=money(quote.to_pay, quote.currency),
            ),
            [
                Option(
                    ctx.t("renew.pay_now", amount=money(quote.to_pay, quote.currency)),
                    "pay_confirm",
                    {"amount": quote.to_pay},
                )
            ],
        )
    return Screen(
        ctx.t(
            text_key,
            package=name,
            charge=money(quote.charge, quote.currency),
            credit=money(quote.credit, quote.currency),
            expiry=day(ctx, quote.new_expiry),
            after=money(quote.balance_after, quote.currency),
        ),
        [Option(ctx.t("common.confirm"), done)],
    )


async def renew_quote(ctx: Context) -> Screen:
    quote = await packages.renewal_quote(ctx.session, need_account(ctx))
    return _quote_screen(ctx, quote, "renew.quote", "renew_done")


async def renew_done(ctx: Context) -> Screen:
    quote = await packages.renew_now(
        ctx.session,
        subscriber_id=need_account(ctx),
        phone=ctx.phone,
        token=str(ctx.data.get("quote", "")),
        channel=ctx.channel,
    )
    name = _package_name(ctx, quote)
    return Screen(ctx.t("renew.done", package=name, expiry=day(ctx, quote.new_expiry)), final=True)


async def change_list(ctx: Context) -> Screen:
    offered = await packages.packages_to_change_to(ctx.session, need_account(ctx))
    if not offered:
        return Screen(ctx.t("error.no_packages"))
    return Screen(
        ctx.t("renew.choose"),
        [
            Option(
                ctx.t(
                    "voucher.item",
                    name=(p.name_sw or p.name) if ctx.language == "sw" else p.name,
                    price=money(p.price, p.currency),
                ),
                "change_quote",
                {"package_id": p.id},
            )
            for p in offered
        ],
    )


async def change_quote(ctx: Context) -> Screen:
    package_id = ctx.data.get("package_id")
    if not isinstance(package_id, int):
        raise SelfServiceError("package_id", "choose a package")
    quote = await packages.change_quote(ctx.session, need_account(ctx), package_id)
    return _quote_screen(ctx, quote, "renew.change_quote", "change_done")


async def change_done(ctx: Context) -> Screen:
    quote = await packages.change_now(
        ctx.session,
        subscriber_id=need_account(ctx),
        phone=ctx.phone,
        token=str(ctx.data.get("quote", "")),
        channel=ctx.channel,
    )
    name = _package_name(ctx, quote)
    return Screen(
        ctx.t("renew.change_done", package=name, expiry=day(ctx, quote.new_expiry)), final=True
    )


# ---------------------------------------------------------------- help


async def problem(ctx: Context) -> Screen:
    return Screen(
        ctx.t("problem.title"),
        [
            Option(ctx.t(f"problem.{category.value}"), "problem_text", {"category": category.value})
            for category in TicketCategory
        ],
    )


async def _take_problem_text(ctx: Context, answer: str) -> str:
    ctx.data["problem_text"] = answer[:MAX_TEXT]
    return "problem_done"


async def problem_text(ctx: Context) -> Screen:
    return Screen(
        ctx.t("problem.describe"),
        [Option(ctx.t("problem.skip"), "problem_done", {"problem_text": ""})],
        expects=_take_problem_text,
    )


def _here(ctx: Context, key: str) -> str:
    return f"{key}_wa" if ctx.channel == "whatsapp" else key


async def problem_done(ctx: Context) -> Screen:
    ticket = await tickets.report_problem(
        ctx.session,
        subscriber_id=ctx.subscriber_id,
        phone=ctx.phone,
        category=str(ctx.data.get("category", "other")),
        text=str(ctx.data.get("problem_text", "")),
        channel=ctx.channel,
    )
    return Screen(ctx.t(_here(ctx, "problem.opened"), ref=ticket.reference), final=True)


async def ticket_list(ctx: Context) -> Screen:
    if ctx.subscriber_id is None:
        return Screen(ctx.t("tickets.none"))
    rows = await tickets.open_tickets(ctx.session, ctx.subscriber_id, limit=5)
    if not rows:
        return Screen(ctx.t("tickets.none"))
    lines = [ctx.t("tickets.title")] + [
        ctx.t("tickets.item", ref=row.reference, status=ctx.t(f"tickets.{row.status}"))
        for row in rows
    ]
    return Screen("\n".join(lines))


async def person(ctx: Context) -> Screen:
    ticket = await tickets.talk_to_person(
        ctx.session, subscriber_id=ctx.subscriber_id, phone=ctx.phone, channel=ctx.channel
    )
    return Screen(ctx.t(_here(ctx, "person.opened"), ref=ticket.reference), final=True)


# ---------------------------------------------------------------- an unknown number


async def _take_name(ctx: Context, answer: str) -> str:
    name = " ".join(answer.split())[:MAX_NAME]
    if len(name) < 2:
        raise Retry(ctx.t("hint.text"))
    ctx.data["lead_name"] = name
    return "register_location"


async def register(ctx: Context) -> Screen:
    return Screen(ctx.t("register.name"), expects=_take_name)


async def _take_location(ctx: Context, answer: str) -> str:
    location = " ".join(answer.split())[:MAX_TEXT]
    if len(location) < 2:
        raise Retry(ctx.t("hint.text"))
    ctx.data["lead_location"] = location
    return "register_done"


async def register_location(ctx: Context) -> Screen:
    return Screen(ctx.t("register.location"), expects=_take_location)


async def register_done(ctx: Context) -> Screen:
    lead = await contacts.register_interest(
        ctx.session,
        phone=ctx.phone,
        name=str(ctx.data.get("lead_name", "")),
        location=str(ctx.data.get("lead_location", "")),
        language=ctx.language,
        channel=ctx.channel,
    )
    if not lead.created:
        return Screen(ctx.t("register.known", account=lead.account_number), final=True)
    name = str(ctx.data.get("lead_name", "")).split(" ")[0]
    return Screen(ctx.t("register.done", name=name, account=lead.account_number), final=True)


# ---------------------------------------------------------------- "I already paid"


async def _take_receipt(ctx: Context, answer: str) -> str:
    try:
        ctx.data["receipt"] = payments.clean_receipt(answer)
    except SelfServiceError:
        raise Retry(ctx.t("hint.receipt")) from None
    return "paid_done"


async def paid(ctx: Context) -> Screen:
    need_account(ctx)
    return Screen(ctx.t("paid.enter"), expects=_take_receipt)


async def paid_done(ctx: Context) -> Screen:
    result = await payments.claim_receipt(
        ctx.session,
        phone=ctx.phone,
        subscriber_id=need_account(ctx),
        receipt=str(ctx.data.get("receipt", "")),
        channel=ctx.channel,
    )
    currency = ctx.data.get("currency", "KES")
    values = {"receipt": result.receipt, "amount": money(result.amount, currency)}
    if result.outcome == "assigned":
        return Screen(ctx.t("paid.assigned", **values), final=True)
    if result.outcome == "already_yours":
        return Screen(ctx.t("paid.already", **values), final=True)
    if result.outcome == "sent_to_staff":
        reference = result.ticket.reference if result.ticket else ""
        return Screen(ctx.t("paid.to_staff", ref=reference, **values), final=True)
    return Screen(ctx.t("paid.not_found", **values), final=True)


# ---------------------------------------------------------------- language and messages


async def settings(ctx: Context) -> Screen:
    prefs = await contacts.contact_prefs(ctx.session, ctx.phone)
    offers = "settings.offers_on" if prefs.marketing_opt_out else "settings.offers_off"
    return Screen(
        ctx.t("settings.title"),
        [
            Option(ctx.t("settings.language"), "language"),
            Option(ctx.t(offers), "offers_toggle"),
        ],
    )


async def language(ctx: Context) -> Screen:
    return Screen(
        ctx.t("settings.language_title"),
        [
            Option(ctx.t(f"language.{code}"), "language_set", {"new_language": code})
            for code in languages()
        ],
    )


async def language_set(ctx: Context) -> Screen:
    chosen = language_or_default(ctx.data.get("new_language"))
    await contacts.set_language(
        ctx.session, phone=ctx.phone, subscriber_id=ctx.subscriber_id, language=chosen
    )
    ctx.state.language = chosen
    ctx.state.data["language_chosen"] = True
    ctx.state.node, ctx.state.stack = HOME, []
    screen = await home(ctx)
    screen.hint = ctx.t("settings.language_set")
    return screen


async def offers_toggle(ctx: Context) -> Screen:
    prefs = await contacts.contact_prefs(ctx.session, ctx.phone)
    opted_in = prefs.marketing_opt_out  # toggled: an opted-out phone opts back in
    await contacts.set_marketing(ctx.session, phone=ctx.phone, opted_in=opted_in)
    key = "settings.offers_started" if opted_in else "settings.offers_stopped"
    return Screen(ctx.t(key), final=True)


# ---------------------------------------------------------------- SMS keywords' own nodes


async def voucher_named(ctx: Context) -> Screen:
    """BUY <package>: the one package on sale whose name starts so, bought at once."""
    wanted = str(ctx.data.get("wanted", ""))
    offers = await vouchers.voucher_offers(ctx.session, ctx.language)
    found = [offer for offer in offers if matches_package(wanted, offer.name)]
    if len(found) != 1:
        names = ", ".join(offer.name for offer in offers) or ctx.t("common.none")
        return Screen(ctx.t("sms.unknown_package", name=wanted[:30], names=names), final=True)
    offer = found[0]
    ctx.data.update(
        package_id=offer.package_id,
        package_name=offer.name,
        price=offer.price,
        currency=offer.currency,
    )
    return await voucher_sent(ctx)


async def help_text(ctx: Context) -> Screen:
    return Screen(ctx.t("sms.help"), final=True)


async def offers_stop(ctx: Context) -> Screen:
    await contacts.set_marketing(ctx.session, phone=ctx.phone, opted_in=False)
    return Screen(ctx.t("settings.offers_stopped"), final=True)


async def offers_start(ctx: Context) -> Screen:
    await contacts.set_marketing(ctx.session, phone=ctx.phone, opted_in=True)
    return Screen(ctx.t("settings.offers_started"), final=True)


# Nodes that write (every final one acts, and these): each runs in a savepoint, so that a
# refusal undoes what it wrote. The others only read, and save the round trips (pay_sent
# and voucher_sent write nothing themselves: what they ask for is emitted after the turn,
# and a refusal drops it).
WRITERS = frozenset(
    {
        "account_chosen",
        "voucher_named",
        "renew_done",
        "change_done",
        "problem_done",
        "person",
        "register_done",
        "paid_done",
        "language_set",
        "offers_toggle",
        "offers_stop",
        "offers_start",
    }
)

FLOWS = Flows(
    {
        HOME: home,
        "choose_account": choose_account,
        "account_chosen": account_chosen,
        "account": account,
        "pay": pay,
        "pay_amount": pay_amount,
        "pay_confirm": pay_confirm,
        "pay_sent": pay_sent,
        "pay_by_hand": pay_by_hand,
        "pay_someone": pay_someone,
        "pay_agent": pay_agent,
        "voucher": voucher,
        "voucher_confirm": voucher_confirm,
        "voucher_sent": voucher_sent,
        "renew": renew,
        "renew_quote": renew_quote,
        "renew_done": renew_done,
        "change_list": change_list,
        "change_quote": change_quote,
        "change_done": change_done,
        "problem": problem,
        "problem_text": problem_text,
        "problem_done": problem_done,
        "tickets": ticket_list,
        "person": person,
        "register": register,
        "register_location": register_location,
        "register_done": register_done,
        "paid": paid,
        "paid_done": paid_done,
        "settings": settings,
        "language": language,
        "language_set": language_set,
        "offers_toggle": offers_toggle,
        "voucher_named": voucher_named,
        "help": help_text,
        "offers_stop": offers_stop,
        "offers_start": offers_start,
    },
    start,
    writers=WRITERS,
)
