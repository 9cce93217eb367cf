"""A Twilio emulator for WhatsApp: a real HTTP server speaking Twilio's Messages API as the
official SDK calls it, with WhatsApp's 24-hour rule and approved templates, sending signed
status callbacks, and acting as Twilio toward an application (a subscriber's message,
signed with X-Twilio-Signature). Control endpoints under /emulator.

Start it with `kiunga emulator twilio --port 8092`, `run_emulator(host, port)`, or in a test
with `TwilioEmulator()` (a background thread on a free port).

Twilio's own paths (point the SDK at the emulator with `TwilioCredentials(base_url=url)`):
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json
        basic auth AccountSid:AuthToken (else 401, code 20003); From and To
        `whatsapp:+E.164` (21604/21603 missing, 21211 a bad To, 63007 a From that is not the
        account's WhatsApp sender); Body ≤ 1600 (21617; 21619 neither Body nor ContentSid);
        ContentSid an approved template (21655) with ContentVariables a JSON object of
        strings (21656); StatusCallback a URL (21609). Free-form Body to a number that has
        not written in 24 hours is taken like any other (201) and then fails: its one status
        callback is failed with ErrorCode 63016, as at Twilio (WhatsApp tells its error 470
        after the message was accepted). Answers Twilio's message JSON (sid SM…, status
        queued); then POSTs status callbacks sent, delivered, read (or as set by
        /emulator/whatsapp/outcomes) to the StatusCallback or the account's
        status_callback_url, signed.
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json

Control endpoints (JSON):
    POST   /emulator/accounts          {account_sid, auth_token, whatsapp_senders?,
                                       status_callback_url?}; GET lists them
    POST   /emulator/templates         {content_sid (HX…), body ("… {{1}} …"), account_sid?};
                                       GET lists them
    POST   /emulator/whatsapp/window   {phone, sender?, hours_ago (null: never wrote)}
    POST   /emulator/whatsapp/outcomes {phone, final: sent|delivered|read|failed|undelivered,
                                       error_code?}; DELETE clears
    POST   /emulator/faults            {status? = 500 (429, 500, 502, 503, 504), count?,
                                       seconds?}: the next `count` API requests (default one),
                                       or all for `seconds`, fail; DELETE clears
    GET    /emulator/whatsapp/outbox   ?phone=+2547…; DELETE clears
    GET    /emulator/whatsapp/stats    {accepted, distinct, duplicates, failed_requests}
    POST   /emulator/whatsapp/inbound  {webhook_url, from, to, body, profile_name?,
                                       account_sid?, repeat?}: POSTs Twilio's inbound form,
                                       signed over webhook_url, opens the 24-hour window and
                                       returns {form, signature, status, content_type,
                                       response, error, twiml_replies, deliveries}; GET
                                       ?phone= lists the inbound forms posted (+received_at)
    POST   /emulator/settings          {status_delay?}
    GET    /emulator/log               ?kind=create|status_callback|inbound&since=<id>;
                                       DELETE clears
    GET    /emulator/health
"""

from kiunga.integrations.twilio.emulator.server import (
    DEFAULT_PORT,
    TwilioEmulator,
    create_emulator_app,
    run_emulator,
)
from kiunga.integrations.twilio.emulator.state import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_TEMPLATE_SID,
    DEMO_WHATSAPP_FROM,
    EmulatorState,
    Template,
    TwilioAccount,
)

__all__ = [
    "DEFAULT_PORT",
    "DEMO_ACCOUNT_SID",
    "DEMO_AUTH_TOKEN",
    "DEMO_TEMPLATE_SID",
    "DEMO_WHATSAPP_FROM",
    "EmulatorState",
    "Template",
    "TwilioAccount",
    "TwilioEmulator",
    "create_emulator_app",
    "run_emulator",
]
