"""Self-care's line in `kiunga up`'s banner: where /me is, and whom to sign in as."""

from __future__ import annotations


def banner(demo) -> str:
    mpesa = getattr(demo.made.get("mpesa"), "seeded", None)
    who = (
        f" with the demo subscriber's phone +{mpesa.msisdn} (account {mpesa.account_number})"
        if mpesa is not None
        else " with a subscriber's phone number"
    )
    return (
        f"Self-care: {demo.url}/me — sign in{who};\n"
        "  the code goes out as an SMS and is in the message log (Messages in the console).\n"
    )
