"""Facts about Entra ID the core and the shells share: its login hosts, tenant-independent endpoints, the
identifier pattern, certificate notice days. Data only; other IdPs never depend on it."""

from __future__ import annotations

import re
from typing import Final

# Entra login hosts by cloud (public, US Government, China 21Vianet): where metadata is fetched from.
CLOUDS: Final = {
    "global": "login.microsoftonline.com",
    "usgov": "login.microsoftonline.us",
    "china": "login.partner.microsoftonline.cn",
}
# Every host recognised as Entra's sign-in service (URL hints, capture error pages): the cloud hosts plus the
# older aliases still found in SP configurations and browser captures. Fetching is governed by
# FetchPolicy.allowed_hosts alone.
ENTRA_HOSTS: Final = frozenset(CLOUDS.values()) | {
    "login.windows.net",
    "login.chinacloudapi.cn",
    "login.microsoft.com",
}
TENANT_INDEPENDENT: Final = ("common", "organizations", "consumers")
MICROSOFT_ONLINE: Final = "urn:federation:MicrosoftOnline"
EXPIRY_NOTICE_DAYS: Final = (7, 30, 60)  # Entra e-mails its expiry notices at 60, 30 and 7 days

# A GUID (tenant ID, app ID, object ID, trace / correlation ID), any case.
GUID_TEXT: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
GUID: Final = re.compile(rf"^{GUID_TEXT}$")
