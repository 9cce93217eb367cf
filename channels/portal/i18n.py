"""Every word the portal shows, in English and Swahili."""

from __future__ import annotations

LANGUAGES = ("en", "sw")
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}

STRINGS: dict[str, dict[str, str]] = {
    "welcome_default": {
        "en": "Fast Wi-Fi by the hour. Enter a voucher code or buy a package with M-Pesa.",
        "sw": "Wi-Fi ya kasi kwa saa. Weka namba ya vocha au nunua kifurushi kwa M-Pesa.",
    },
    "have_voucher": {"en": "Have a voucher?", "sw": "Una vocha?"},
    "code_label": {"en": "Voucher code", "sw": "Namba ya vocha"},
    "connect": {"en": "Connect", "sw": "Unganisha"},
    "buy_heading": {"en": "Buy a package", "sw": "Nunua kifurushi"},
    "buy": {"en": "Buy", "sw": "Nunua"},
    "no_packages": {
        "en": "No packages are on sale here at the moment.",
        "sw": "Hakuna vifurushi vinavyouzwa hapa kwa sasa.",
    },
    "router_error": {"en": "The hotspot said: {error}", "sw": "Hotspot imesema: {error}"},
    "support": {"en": "Help: call {phone}", "sw": "Msaada: piga {phone}"},
    "validity": {"en": "for {count} {unit}", "sw": "kwa {unit} {count}"},
    "data_cap": {"en": "{amount} of data", "sw": "data {amount}"},
    "unlimited_data": {"en": "unlimited data", "sw": "data bila kikomo"},
    # validity units, singular / plural
    "unit_minute": {"en": "minute|minutes", "sw": "dakika|dakika"},
    "unit_hour": {"en": "hour|hours", "sw": "saa|saa"},
    "unit_day": {"en": "day|days", "sw": "siku|siku"},
    "unit_week": {"en": "week|weeks", "sw": "wiki|wiki"},
    "unit_month": {"en": "month|months", "sw": "mwezi|miezi"},
    "unit_year": {"en": "year|years", "sw": "mwaka|miaka"},
    # refusals
    "refused_unknown": {
        "en": "That code is not valid here. Check it and try again.",
        "sw": "Namba hiyo si sahihi hapa. Iangalie na ujaribu tena.",
    },
    "refused_expired": {
        "en": "That voucher has expired.",
        "sw": "Muda wa vocha hiyo umekwisha.",
    },
    "refused_used_up": {
        "en": "That voucher has been used up.",
        "sw": "Vocha hiyo imeshatumika yote.",
    },
    "refused_revoked": {
        "en": "That voucher has been cancelled by the seller.",
        "sw": "Vocha hiyo imefutwa na muuzaji.",
    },
    "refused_other_device": {
        "en": "That voucher is in use on another device.",
        "sw": "Vocha hiyo inatumika kwenye kifaa kingine.",
    },
    "refused_other": {
        "en": "That voucher cannot be used right now. Please try again.",
        "sw": "Vocha hiyo haiwezi kutumika sasa hivi. Tafadhali jaribu tena.",
    },
    "code_missing": {"en": "Enter your voucher code.", "sw": "Weka namba ya vocha yako."},
    "rate_limited": {
        "en": "Too many wrong codes. Wait {seconds} seconds, then try again.",
        "sw": "Umekosea namba mara nyingi. Subiri sekunde {seconds}, kisha ujaribu tena.",
    },
    "buy_limited": {
        "en": "Too many payment requests. Wait {minutes} minutes, then try again.",
        "sw": "Maombi ya malipo ni mengi mno. Subiri dakika {minutes}, kisha ujaribu tena.",
    },
    "form_expired": {
        "en": "This page was open too long. Please try again.",
        "sw": "Ukurasa huu ulikaa wazi muda mrefu. Tafadhali jaribu tena.",
    },
    "try_again": {"en": "Try again", "sw": "Jaribu tena"},
    "back": {"en": "Back", "sw": "Rudi"},
    # no router parameters
    "join_heading": {"en": "Connect to the Wi-Fi first", "sw": "Kwanza unganisha na Wi-Fi"},
    "join_body": {
        "en": "To get online, join the {name} Wi-Fi network on your phone, then open any "
        "web page: this page will open by itself and let you connect.",
        "sw": "Ili kupata intaneti, unganisha simu yako na mtandao wa Wi-Fi wa {name}, kisha "
        "fungua ukurasa wowote wa wavuti: ukurasa huu utafunguka wenyewe ukuunganishe.",
    },
    "check_heading": {"en": "Check a voucher", "sw": "Angalia vocha"},
    "check": {"en": "Check", "sw": "Angalia"},
    # logging in
    "connecting": {"en": "Connecting you…", "sw": "Tunakuunganisha…"},
    "connecting_body": {
        "en": "Your voucher is ready. If nothing happens, press Continue.",
        "sw": "Vocha yako iko tayari. Kama hakuna kinachotokea, bonyeza Endelea.",
    },
    "continue": {"en": "Continue", "sw": "Endelea"},
    "your_code": {
        "en": "Your voucher code is {code}. Keep it to connect again.",
        "sw": "Namba ya vocha yako ni {code}. Itunze ili uunganishe tena.",
    },
    "valid_until": {"en": "Valid until {time}", "sw": "Inatumika hadi {time}"},
    # buying
    "phone_label": {"en": "M-Pesa phone number", "sw": "Namba ya simu ya M-Pesa"},
    "pay": {"en": "Pay {price} with M-Pesa", "sw": "Lipa {price} kwa M-Pesa"},
    "buy_summary": {"en": "{package}: {price}", "sw": "{package}: {price}"},
    "bad_phone": {
        "en": "Enter a Safaricom number such as 0712 345 678.",
        "sw": "Weka namba ya Safaricom kama 0712 345 678.",
    },
    "mpesa_unavailable": {
        "en": "M-Pesa is not answering right now. Please try again in a minute.",
        "sw": "M-Pesa haijibu kwa sasa. Tafadhali jaribu tena baada ya dakika moja.",
    },
    "package_unavailable": {
        "en": "That package is not on sale any more.",
        "sw": "Kifurushi hicho hakiuzwi tena.",
    },
    "wait_heading": {"en": "Check your phone", "sw": "Angalia simu yako"},
    "wait_body": {
        "en": "Enter your M-Pesa PIN on {phone} to pay {price} for {package}. "
        "This page moves on by itself.",
        "sw": "Weka PIN yako ya M-Pesa kwenye {phone} kulipa {price} kwa {package}. "
        "Ukurasa huu utaendelea wenyewe.",
    },
    "payment_failed": {
        "en": "The payment did not go through: {reason}",
        "sw": "Malipo hayakufanikiwa: {reason}",
    },
    "prompt_open": {
        "en": "A payment request is already waiting on that phone. Finish or cancel it, "
        "then try again.",
        "sw": "Ombi la malipo tayari linasubiri kwenye simu hiyo. Likamilishe au ulighairi, "
        "kisha ujaribu tena.",
    },
    # why a purchase failed (keys of the purchases' FAILURES)
    "failure_cancelled": {"en": "you cancelled the payment.", "sw": "ulighairi malipo."},
    "failure_insufficient_funds": {
        "en": "your M-Pesa balance is not enough for this package.",
        "sw": "salio lako la M-Pesa halitoshi kwa kifurushi hiki.",
    },
    "failure_unreachable": {
        "en": "your phone could not be reached.",
        "sw": "simu yako haikupatikana.",
    },
    "failure_busy": {
        "en": "another M-Pesa payment is in progress on your phone. Try again in a minute.",
        "sw": "malipo mengine ya M-Pesa yanaendelea kwenye simu yako. Jaribu tena baada ya "
        "dakika moja.",
    },
    "failure_timeout": {"en": "the request timed out.", "sw": "muda wa ombi umekwisha."},
    "failure_wrong_pin": {
        "en": "the M-Pesa PIN was wrong.",
        "sw": "PIN ya M-Pesa haikuwa sahihi.",
    },
    "failure_being_checked": {
        "en": "your payment is being checked; the provider will contact you.",
        "sw": "malipo yako yanakaguliwa; mtoa huduma atawasiliana nawe.",
    },
    "failure_not_issued": {
        "en": "your payment was received but no voucher was issued yet. Please call support.",
        "sw": "malipo yako yamepokelewa lakini vocha bado haijatolewa. Tafadhali piga msaada.",
    },
    "failure_refused": {
        "en": "M-Pesa did not accept the request. Try again.",
        "sw": "M-Pesa haikukubali ombi. Jaribu tena.",
    },
    "failure_failed": {"en": "it was not completed.", "sw": "hayakukamilika."},
    "purchase_unknown": {
        "en": "We could not find that payment.",
        "sw": "Hatukupata malipo hayo.",
    },
    # status
    "status_heading": {"en": "You are online", "sw": "Uko mtandaoni"},
    "voucher_heading": {"en": "Voucher {code}", "sw": "Vocha {code}"},
    "time_left": {"en": "Time left: {left}", "sw": "Muda uliobaki: {left}"},
    "not_started": {
        "en": "Not used yet: the time starts when you first connect.",
        "sw": "Bado haijatumika: muda unaanza unapounganisha mara ya kwanza.",
    },
    "data_left": {"en": "Data left: {left}", "sw": "Data iliyobaki: {left}"},
    "data_used": {"en": "Data used: {used}", "sw": "Data iliyotumika: {used}"},
    "status_label": {"en": "Status: {status}", "sw": "Hali: {status}"},
    "status_new": {"en": "ready to use", "sw": "tayari kutumika"},
    "status_sold": {"en": "ready to use", "sw": "tayari kutumika"},
    "status_active": {"en": "in use", "sw": "inatumika"},
    "status_used_up": {"en": "used up", "sw": "imekwisha"},
    "status_expired": {"en": "expired", "sw": "imepitwa na muda"},
    "status_revoked": {"en": "cancelled", "sw": "imefutwa"},
    "log_out": {"en": "Log out", "sw": "Toka"},
    "duration_dhm": {"en": "{d} d {h} h {m} min", "sw": "siku {d} saa {h} dakika {m}"},
    "duration_hm": {"en": "{h} h {m} min", "sw": "saa {h} dakika {m}"},
    "duration_m": {"en": "{m} min", "sw": "dakika {m}"},
}


def pick_language(requested: str | None, default: str) -> str:
    if requested in LANGUAGES:
        return requested
    return default if default in LANGUAGES else "en"


class Translator:
    def __init__(self, language: str):
        self.language = language if language in LANGUAGES else "en"

    def __call__(self, key: str, **values: object) -> str:
        text = STRINGS[key][self.language]
        return text.format(**values) if values else text

    def unit(self, unit: str, count: int) -> str:
        singular, plural = STRINGS[f"unit_{unit}"][self.language].split("|")
        return singular if count == 1 else plural

    def duration(self, seconds: int) -> str:
        minutes = max(int(seconds), 0) // 60
        days, minutes = divmod(minutes, 1440)
        hours, minutes = divmod(minutes, 60)
        if days:
            return self("duration_dhm", d=days, h=hours, m=minutes)
        if hours:
            return self("duration_hm", h=hours, m=minutes)
        return self("duration_m", m=minutes)


def data_amount(size: int) -> str:
    """1500000000 → "1.5 GB" (decimal units, as ISPs sell them)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            value = size / scale
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{size} B"
