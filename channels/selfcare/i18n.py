"""Every word the /me pages show, in English and Swahili. A third language is a third key
in each entry (and its name in LANGUAGE_NAMES), not code."""

from __future__ import annotations

LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}
LANGUAGES = tuple(LANGUAGE_NAMES)

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "My account", "sw": "Akaunti yangu"},
    # signing in
    "signin_heading": {"en": "Sign in", "sw": "Ingia"},
    "signin_intro": {
        "en": "Enter the phone number on your account. We will send you a code by SMS.",
        "sw": "Weka namba ya simu iliyo kwenye akaunti yako. Tutakutumia namba ya siri kwa SMS.",
    },
    "phone_label": {"en": "Phone number", "sw": "Namba ya simu"},
    "send_code": {"en": "Send me a code", "sw": "Nitumie namba"},
    "code_sent": {
        "en": "If {phone} is on an account here, a 6-digit code is on its way by SMS. "
        "It works for 10 minutes.",
        "sw": "Kama {phone} iko kwenye akaunti hapa, namba ya tarakimu 6 inakuja kwa SMS. "
        "Inafanya kazi kwa dakika 10.",
    },
    "code_label": {"en": "Code from the SMS", "sw": "Namba kutoka kwenye SMS"},
    "verify": {"en": "Sign in", "sw": "Ingia"},
    "wrong_code": {
        "en": "That code is not right, or it has expired. Try again or ask for a new one.",
        "sw": "Namba hiyo si sahihi, au muda wake umekwisha. Jaribu tena au omba nyingine.",
    },
    "new_code": {"en": "Send a new code", "sw": "Tuma namba mpya"},
    "bad_phone": {
        "en": "Enter a phone number such as 0712 345 678.",
        "sw": "Weka namba ya simu kama 0712 345 678.",
    },
    "too_many": {
        "en": "Too many tries. Wait {minutes} minutes, then try again.",
        "sw": "Umejaribu mara nyingi mno. Subiri dakika {minutes}, kisha ujaribu tena.",
    },
    "form_expired": {
        "en": "This page was open too long. Please try again.",
        "sw": "Ukurasa huu ulikaa wazi muda mrefu. Tafadhali jaribu tena.",
    },
    "sms_code": {
        "en": "{code} is your {isp} sign-in code. It works for 10 minutes. "
        "Do not share it with anyone.",
        "sw": "{code} ni namba yako ya kuingia {isp}. Inafanya kazi kwa dakika 10. "
        "Usimpe mtu yeyote.",
    },
    "sign_out": {"en": "Sign out", "sw": "Toka"},
    "choose_account": {"en": "Choose an account", "sw": "Chagua akaunti"},
    "choose": {"en": "Open", "sw": "Fungua"},
    "switch_account": {"en": "Another account", "sw": "Akaunti nyingine"},
    # navigation
    "nav_account": {"en": "Account", "sw": "Akaunti"},
    "nav_pay": {"en": "Pay", "sw": "Lipa"},
    "nav_usage": {"en": "Usage", "sw": "Matumizi"},
    "nav_buy": {"en": "Renew / buy", "sw": "Ongeza / nunua"},
    "nav_devices": {"en": "Devices", "sw": "Vifaa"},
    "nav_tickets": {"en": "Help", "sw": "Msaada"},
    "nav_messages": {"en": "Messages", "sw": "Ujumbe"},
    # account
    "account_number": {"en": "Account number", "sw": "Namba ya akaunti"},
    "status": {"en": "Status", "sw": "Hali"},
    "package": {"en": "Package", "sw": "Kifurushi"},
    "expires": {"en": "Runs until", "sw": "Inaisha"},
    "balance": {"en": "Balance", "sw": "Salio"},
    "amount_due": {"en": "Amount due", "sw": "Kiasi kinachodaiwa"},
    "last_payment": {"en": "Last payment", "sw": "Malipo ya mwisho"},
    "none": {"en": "None", "sw": "Hakuna"},
    "no_service": {"en": "No service yet", "sw": "Bado hakuna huduma"},
    "st_active": {"en": "Active", "sw": "Inatumika"},
    "st_suspended": {"en": "Suspended", "sw": "Imesimamishwa"},
    "st_expired": {"en": "Expired", "sw": "Muda umekwisha"},
    "st_pending": {"en": "Waiting for payment", "sw": "Inasubiri malipo"},
    "st_lead": {"en": "Interested", "sw": "Anayevutiwa"},
    "st_pending_installation": {"en": "Waiting for installation", "sw": "Inasubiri kufungwa"},
    "st_terminated": {"en": "Closed", "sw": "Imefungwa"},
    # paying
    "pay_heading": {"en": "Pay with M-Pesa", "sw": "Lipa kwa M-Pesa"},
    "amount_label": {"en": "Amount (KES)", "sw": "Kiasi (KES)"},
    "pay_phone": {"en": "M-Pesa number", "sw": "Namba ya M-Pesa"},
    "pay_button": {"en": "Send the M-Pesa prompt", "sw": "Tuma ombi la M-Pesa"},
    "pay_sent": {
        "en": "Check your phone {phone}: enter your M-Pesa PIN to pay {amount}.",
        "sw": "Angalia simu yako {phone}: weka PIN yako ya M-Pesa kulipa {amount}.",
    },
    "by_hand": {"en": "Or pay from the M-Pesa menu", "sw": "Au lipa kupitia menyu ya M-Pesa"},
    "paybill_steps": {
        "en": "Lipa na M-Pesa → Pay Bill. Business number {number}, account {account}.",
        "sw": "Lipa na M-Pesa → Pay Bill. Namba ya biashara {number}, akaunti {account}.",
    },
    "till_steps": {
        "en": "Lipa na M-Pesa → Buy Goods. Till number {number}.",
        "sw": "Lipa na M-Pesa → Buy Goods. Namba ya till {number}.",
    },
    "bad_amount": {
        "en": "Enter a whole number of shillings, such as 1500.",
        "sw": "Weka kiasi cha shilingi kamili, kama 1500.",
    },
    "mpesa_down": {
        "en": "M-Pesa is not answering right now. Please try again in a minute.",
        "sw": "M-Pesa haijibu kwa sasa. Tafadhali jaribu tena baada ya dakika moja.",
    },
    "claim_heading": {"en": "Already paid?", "sw": "Umeshalipa?"},
    "claim_intro": {
        "en": "Type the M-Pesa code from your confirmation SMS.",
        "sw": "Andika namba ya M-Pesa kutoka kwenye SMS ya uthibitisho.",
    },
    "receipt_label": {"en": "M-Pesa code", "sw": "Namba ya M-Pesa"},
    "claim_button": {"en": "Find my payment", "sw": "Tafuta malipo yangu"},
    "claim_assigned": {
        "en": "Found it: {amount} is now on your account.",
        "sw": "Tumeyapata: {amount} sasa yako kwenye akaunti yako.",
    },
    "claim_already_yours": {
        "en": "That payment is already on your account.",
        "sw": "Malipo hayo tayari yako kwenye akaunti yako.",
    },
    "claim_sent_to_staff": {
        "en": "We could not be sure that payment is yours, so our staff will check it ({ticket}).",
        "sw": "Hatukuweza kuhakikisha malipo hayo ni yako, kwa hivyo wafanyakazi wetu "
        "wataangalia ({ticket}).",
    },
    "claim_not_found": {
        "en": "We have no payment with that code yet. Check the code, or try again in a "
        "few minutes.",
        "sw": "Bado hatuna malipo yenye namba hiyo. Angalia namba, au jaribu tena baada ya "
        "dakika chache.",
    },
    # usage
    "usage_heading": {"en": "Usage this period", "sw": "Matumizi kipindi hiki"},
    "downloaded": {"en": "Downloaded", "sw": "Imepakuliwa"},
    "uploaded": {"en": "Uploaded", "sw": "Imepakiwa"},
    "data_cap": {"en": "Data allowance", "sw": "Kiwango cha data"},
    "unlimited": {"en": "Unlimited", "sw": "Bila kikomo"},
    "period_from": {"en": "Since", "sw": "Tangu"},
    "no_usage": {"en": "No usage recorded yet.", "sw": "Bado hakuna matumizi."},
    # renew, change, vouchers
    "renew_heading": {"en": "Renew now", "sw": "Ongeza sasa"},
    "renew_button": {"en": "See the price", "sw": "Ona bei"},
    "change_heading": {"en": "Change package", "sw": "Badilisha kifurushi"},
    "vouchers_heading": {"en": "Hotspot vouchers", "sw": "Vocha za hotspot"},
    "buy": {"en": "Buy", "sw": "Nunua"},
    "quote_heading": {"en": "Please confirm", "sw": "Tafadhali thibitisha"},
    "quote_charge": {"en": "Charged now", "sw": "Unatozwa sasa"},
    "quote_credit": {"en": "Credited back", "sw": "Unarudishiwa"},
    "quote_new_expiry": {"en": "Then runs until", "sw": "Kisha itaisha"},
    "quote_balance_after": {"en": "Balance after", "sw": "Salio baadaye"},
    "quote_to_pay": {
        "en": "Your balance does not cover this: pay {amount} first.",
        "sw": "Salio lako halitoshi: lipa {amount} kwanza.",
    },
    "confirm": {"en": "Confirm", "sw": "Thibitisha"},
    "cancel": {"en": "Cancel", "sw": "Ghairi"},
    "done_renew": {
        "en": "Done: your service now runs until {date}.",
        "sw": "Imekamilika: huduma yako sasa inaisha {date}.",
    },
    "done_change": {
        "en": "Done: you are now on {package}.",
        "sw": "Imekamilika: sasa uko kwenye {package}.",
    },
    "voucher_sent": {
        "en": "Check your phone {phone}: enter your M-Pesa PIN to pay {amount}. "
        "The voucher code comes by SMS.",
        "sw": "Angalia simu yako {phone}: weka PIN yako ya M-Pesa kulipa {amount}. "
        "Namba ya vocha itakuja kwa SMS.",
    },
    "nothing_to_renew": {
        "en": "There is nothing to renew or change on this account here.",
        "sw": "Hakuna cha kuongeza au kubadilisha kwenye akaunti hii hapa.",
    },
    # devices
    "devices_heading": {"en": "Devices on your hotspot login", "sw": "Vifaa kwenye hotspot yako"},
    "no_devices": {"en": "No devices right now.", "sw": "Hakuna vifaa kwa sasa."},
    "online": {"en": "online", "sw": "mtandaoni"},
    "bound": {"en": "the only device allowed", "sw": "kifaa pekee kinachoruhusiwa"},
    "remove": {"en": "Remove", "sw": "Ondoa"},
    "remove_confirm": {
        "en": "Remove device {mac}? Another device can then use your login.",
        "sw": "Ondoa kifaa {mac}? Kifaa kingine kitaweza kutumia hotspot yako.",
    },
    "removed": {"en": "Device {mac} removed.", "sw": "Kifaa {mac} kimeondolewa."},
    # tickets
    "tickets_heading": {"en": "Help and tickets", "sw": "Msaada na tiketi"},
    "new_ticket": {"en": "Report a problem", "sw": "Ripoti tatizo"},
    "category_label": {"en": "What is it about?", "sw": "Inahusu nini?"},
    "cat_connectivity": {"en": "No internet / slow", "sw": "Hakuna intaneti / polepole"},
    "cat_billing": {"en": "Payments and bills", "sw": "Malipo na bili"},
    "cat_installation": {"en": "Installation", "sw": "Kufunga huduma"},
    "cat_relocation": {"en": "Moving house", "sw": "Kuhama"},
    "cat_other": {"en": "Something else", "sw": "Mengineyo"},
    "text_label": {"en": "Tell us more", "sw": "Tueleze zaidi"},
    "send": {"en": "Send", "sw": "Tuma"},
    "text_missing": {"en": "Write a few words.", "sw": "Andika maneno machache."},
    "ticket_opened": {
        "en": "Thank you. Your ticket is {ticket}; we will reply here and by SMS.",
        "sw": "Asante. Tiketi yako ni {ticket}; tutajibu hapa na kwa SMS.",
    },
    "no_tickets": {"en": "No tickets.", "sw": "Hakuna tiketi."},
    "reply": {"en": "Reply", "sw": "Jibu"},
    "you": {"en": "You", "sw": "Wewe"},
    "staff": {"en": "Support", "sw": "Msaada"},
    "system": {"en": "Note", "sw": "Taarifa"},
    "tk_open": {"en": "Open", "sw": "Wazi"},
    "tk_in_progress": {"en": "Being worked on", "sw": "Inashughulikiwa"},
    "tk_waiting_on_subscriber": {"en": "Waiting for you", "sw": "Inakusubiri"},
    "tk_resolved": {"en": "Resolved", "sw": "Imetatuliwa"},
    "tk_closed": {"en": "Closed", "sw": "Imefungwa"},
    "ticket_closed": {
        "en": "This ticket is closed: report a new problem instead.",
        "sw": "Tiketi hii imefungwa: ripoti tatizo jipya badala yake.",
    },
    # messages
    "messages_heading": {"en": "Messages", "sw": "Ujumbe"},
    "no_messages": {"en": "No messages yet.", "sw": "Bado hakuna ujumbe."},
    "from_you": {"en": "From you", "sw": "Kutoka kwako"},
    "to_you": {"en": "To you", "sw": "Kwako"},
    # general
    "back": {"en": "Back", "sw": "Rudi"},
    "not_found": {"en": "Not found.", "sw": "Haikupatikana."},
    "try_again": {
        "en": "Something went wrong. Please try again.",
        "sw": "Hitilafu imetokea. Tafadhali jaribu tena.",
    },
    "more_pages": {"en": "Older", "sw": "Za zamani"},
}


def pick_language(requested: str | None, default: str = "en") -> str:
    if requested in LANGUAGES:
        return requested
    return default if default in LANGUAGES else "en"


class Translator:
    def __init__(self, language: str):
        self.language = pick_language(language)

    def __call__(self, key: str, **values: object) -> str:
        entry = STRINGS[key]
        text = entry.get(self.language) or entry["en"]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in STRINGS
