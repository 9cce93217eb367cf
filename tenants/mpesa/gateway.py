"""The Daraja client for a tenant's settings, behind the integration's MpesaGateway
interface, so that tests and `kiunga up` can point it at the emulator (the settings'
base_url) or swap in their own gateway factory."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from kiunga.integrations.mpesa.client import DarajaClient, DarajaConfig, MpesaGateway
from kiunga.tenants.mpesa.config import Credentials

GatewayFactory = Callable[[Credentials], MpesaGateway]
_MAX_CLIENTS = 256
# One client per Daraja app and process: a client keeps its OAuth token, and Daraja
# invalidates an app's previous token whenever it issues a new one.
_clients: OrderedDict[str, DarajaClient] = OrderedDict()


def _fingerprint(credentials: Credentials) -> str:
    parts = (
        credentials.base_url,
        credentials.shortcode,
        credentials.shortcode_type.value,
        credentials.till_number or "",
        credentials.consumer_key,
        credentials.consumer_secret,
        credentials.passkey,
        credentials.initiator_name,
        credentials.security_credential,
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def daraja_gateway(credentials: Credentials) -> MpesaGateway:
    key = _fingerprint(credentials)
    client = _clients.get(key)
    if client is None:
        client = DarajaClient(
            DarajaConfig(
                base_url=credentials.base_url,
                consumer_key=credentials.consumer_key,
                consumer_secret=credentials.consumer_secret,
                shortcode=credentials.shortcode,
                passkey=credentials.passkey,
                shortcode_type=credentials.shortcode_type.value,
                till_number=credentials.till_number,
                initiator_name=credentials.initiator_name or None,
                security_credential=credentials.security_credential or None,
            ),
            timeout_seconds=20.0,
        )
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            _clients.popitem(last=False)
    else:
        _clients.move_to_end(key)
    return client
