"""An Africa's Talking emulator: a real HTTP server speaking AT's SMS API as the official SDK
calls it, sending delivery reports, and acting as AT toward an application (USSD hops and
incoming SMS in AT's exact form encoding). Control endpoints under /emulator.

Start it with `kiunga emulator africastalking --port 8091`, `run_emulator(host, port)`, or
in a test with `AfricasTalkingEmulator()` (a background thread on a free port).

AT's own path (point the SDK at the emulator with `AtCredentials(base_url=emulator.url)`):
    POST /version1/messaging   form username, to (comma list), message, from, bulkSMSMode,
                               enqueue, keyword, linkId, retryDurationInHours; header apiKey.
                               401 "The supplied authentication is invalid"; 201 with
                               SMSMessageData {Message, Recipients[{statusCode 101, number,
                               status "Success", cost "KES 0.8000" a segment, messageId}]};
                               a bad or unregistered sender id: Message "InvalidSenderId" and
                               no Recipients; a number not +E.164: statusCode 403
                               InvalidPhoneNumber. Every accepted message is stored (outbox)
                               and its delivery report POSTed to the account's
                               delivery_report_url after `delivery_delay` (form id, status,
                               phoneNumber, networkCode, retryCount[, failureReason]); a
                               premium reply whose linkId the emulator never sent is reported
                               Failed/InvalidLinkId.

Control endpoints (JSON):
    POST   /emulator/accounts        {username, api_key, sender_ids?, shortcodes?,
                                     delivery_report_url?} (None lists: any well-formed);
                                     GET lists them
    POST   /emulator/faults          {status? = 500, count?, seconds?}: the next `count` send
                                     requests, or all for `seconds`, answer `status` and store
                                     nothing (default: one request); DELETE clears
    GET    /emulator/sms/outbox      ?phone=+2547…: messages accepted; DELETE clears
    GET    /emulator/sms/stats       {accepted, distinct, duplicates[{username, to, message,
                                     count}], failed_requests}
    POST   /emulator/sms/outcomes    {phone, status, failure_reason?}: how delivery to that
                                     phone ends (default Success); DELETE clears
    POST   /emulator/sms/inbound     {callback_url, from, to, text, linkId?, networkCode?,
                                     repeat?}: POSTs AT's incoming-SMS form (date, from, id,
                                     linkId, text, to, networkCode) and returns
                                     {form, status, response, error, deliveries};
                                     GET ?phone= lists the incoming SMS posted (AT's forms)
    POST   /emulator/ussd            {callback_url, serviceCode, phoneNumber, text,
                                     sessionId?, networkCode?, repeat?}: one hop as given
    POST   /emulator/ussd/dial       {callback_url, serviceCode, phoneNumber, networkCode?,
                                     shared_code?}: a new session's first hop
    POST   /emulator/ussd/reply      {sessionId, input}: the next hop (inputs joined by *)
    GET    /emulator/ussd/{sessionId}
                                     The USSD answers: {session_id, form, text, status,
                                     content_type, raw, kind "CON"|"END", screen, ended,
                                     too_long (> 182 characters), error, seconds}
    POST   /emulator/settings        {delivery_delay?}
    GET    /emulator/log             ?kind=send|delivery_report|inbound_sms|ussd&since=<id>;
                                     DELETE clears
    GET    /emulator/health
"""

from kiunga.integrations.africastalking.emulator.server import (
    DEFAULT_PORT,
    AfricasTalkingEmulator,
    create_emulator_app,
    run_emulator,
)
from kiunga.integrations.africastalking.emulator.state import (
    DEMO_API_KEY,
    DEMO_SENDER_ID,
    DEMO_SHORTCODE,
    DEMO_USERNAME,
    Account,
    EmulatorState,
    segments,
)

__all__ = [
    "DEFAULT_PORT",
    "DEMO_API_KEY",
    "DEMO_SENDER_ID",
    "DEMO_SHORTCODE",
    "DEMO_USERNAME",
    "Account",
    "AfricasTalkingEmulator",
    "EmulatorState",
    "create_emulator_app",
    "run_emulator",
    "segments",
]
