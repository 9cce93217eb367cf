"""A Daraja emulator: a real HTTP server speaking Safaricom's Daraja JSON, with control
endpoints under /emulator for tests and the demo.

Start it with `kiunga emulator daraja --port 8089`, `run_emulator(host, port)`, or in a
test with `EmulatorServer()` (a background thread on a free port).

Demo conventions (unless POST /emulator/stk/outcomes chose otherwise for a number), by the
last four digits of the phone an STK push goes to:
    …1032 → cancelled by the user (ResultCode 1032)
    …0001 → insufficient funds (ResultCode 1)
    …0000 → paid, but no callback is ever sent (only STK Query tells)
    …1037 → the phone cannot be reached (ResultCode 1037)
    …2001 → wrong PIN (ResultCode 2001)
    anything else → paid (ResultCode 0, with a receipt)

Daraja's own paths: GET /oauth/v1/generate, POST /mpesa/stkpush/v1/processrequest,
/mpesa/stkpushquery/v1/query, /mpesa/c2b/v1/registerurl (and v2),
/mpesa/transactionstatus/v1/query.

Control endpoints (JSON):
    POST   /emulator/apps            register an app {consumer_key, consumer_secret, shortcode,
                                     passkey, shortcode_type, till_number?, initiator_name?,
                                     security_credential?, organisation_name?}; GET lists them
    POST   /emulator/stk/outcomes    {phone, outcome} (see `Outcome`); DELETE clears them
    GET    /emulator/stk/{checkout_request_id}   an STK request as the emulator sees it
    POST   /emulator/c2b/pay         {shortcode, amount, bill_ref_number, msisdn, mask_msisdn?,
                                     hash_msisdn? (SHA-256 hex, as Safaricom sends it now),
                                     duplicates?, first_name?, middle_name?, last_name?}: a
                                     customer pays; validation, then confirmation(s) are POSTed
                                     and the ISP's answers returned with the TransID
    POST   /emulator/redeliver       {log_id}: send an earlier callback again
    POST   /emulator/faults          {kind, count?, path_prefix? = "/mpesa/"}: the next `count`
                                     matching requests fail (spike_arrest, quota_violation,
                                     server_error, unavailable, invalid_token); DELETE clears
    POST   /emulator/settings        {callback_delay?, token_expires_in?}
    GET    /emulator/log             ?kind=&direction=in|out&since=<id>; DELETE clears it
    GET    /emulator/health
"""

from kiunga.integrations.mpesa.emulator.server import (
    DEFAULT_PORT,
    EmulatorServer,
    build_state,
    create_emulator_app,
    run_emulator,
)
from kiunga.integrations.mpesa.emulator.state import (
    APPS_ENV,
    DEMO_CONSUMER_KEY,
    DEMO_CONSUMER_SECRET,
    DEMO_INITIATOR_NAME,
    DEMO_ORGANISATION_NAME,
    DEMO_PASSKEY,
    DEMO_SECURITY_CREDENTIAL,
    DEMO_SHORTCODE,
    OUTCOME_BY_PHONE_SUFFIX,
    EmulatedApp,
    EmulatorState,
    Outcome,
)

__all__ = [
    "APPS_ENV",
    "DEFAULT_PORT",
    "DEMO_CONSUMER_KEY",
    "DEMO_CONSUMER_SECRET",
    "DEMO_INITIATOR_NAME",
    "DEMO_ORGANISATION_NAME",
    "DEMO_PASSKEY",
    "DEMO_SECURITY_CREDENTIAL",
    "DEMO_SHORTCODE",
    "OUTCOME_BY_PHONE_SUFFIX",
    "EmulatedApp",
    "EmulatorServer",
    "EmulatorState",
    "Outcome",
    "build_state",
    "create_emulator_app",
    "run_emulator",
]
