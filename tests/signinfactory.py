"""Entra sign-in events shaped like Microsoft Graph's signIn resource (beta, as the admin center's JSON download
writes them), and the admin center's CSV download. Values are invented; field names and value shapes follow
Microsoft's resource documentation (signIn, signInStatus, appliedConditionalAccessPolicy, authenticationDetail,
deviceDetail, signInLocation)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

CONTOSO = "7f1c0c5e-3b1d-4d8e-9a51-2c6f1e0b9a10"  # the resource tenant (owns the SAML app)
FABRIKAM = "0b5d6a47-9e2c-4b39-8c55-6e0f4d2a7b31"  # a partner tenant (guests' home)
SAML_APP_ID = "4a8e2f1c-6d3b-4c7a-9e51-8f2d0c6b1a37"  # the SAML enterprise app ("Contoso Wiki")
SAML_APP = "Contoso Wiki"
OFFICE_APP_ID = "4765445b-32c6-49b0-83e6-1d93765276ca"  # OfficeHome
CORR = "6d0b7a1e-5f3c-4a28-b9e4-1c7d2f8a3e55"
REQ = "b3f1c2d4-8e7a-4b6c-9d05-2a1e3f4b5c6d"


def policy(
    name: str, result: str, grant: list[str], pid: str = "d1a2b3c4-0000-4000-8000-000000000001"
) -> dict[str, Any]:
    return {
        "id": pid,
        "displayName": name,
        "enforcedGrantControls": grant,
        "enforcedSessionControls": [],
        "result": result,
        "conditionsSatisfied": "application,users" if result not in ("notApplied", "notEnabled") else "none",
        "conditionsNotSatisfied": "none",
        "includeRulesSatisfied": [],
        "excludeRulesSatisfied": [],
    }


def event(**kw: Any) -> dict[str, Any]:
    """One signIn event; keyword arguments override top-level fields (status_* for status)."""
    code = kw.pop("error_code", 0)
    reason = kw.pop("failure_reason", "Other." if code == 0 else None)
    details = kw.pop("additional_details", None)
    e: dict[str, Any] = {
        "id": REQ,
        "createdDateTime": "2026-03-02T09:29:31.6195833Z",
        "userDisplayName": "Adele Vance",
        "userPrincipalName": "adelev@contoso.com",
        "userId": "26be570a-ae82-4189-b4e2-a37c6808512d",
        "appId": SAML_APP_ID,
        "appDisplayName": SAML_APP,
        "ipAddress": "203.0.113.45",
        "ipAddressFromResourceProvider": None,
        "clientAppUsed": "Browser",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
        "correlationId": CORR,
        "conditionalAccessStatus": "notApplied",
        "originalRequestId": REQ,
        "isInteractive": True,
        "tokenIssuerName": "",
        "tokenIssuerType": "AzureAD",
        "authenticationProcessingDetails": [],
        "networkLocationDetails": [],
        "processingTimeInMilliseconds": 212,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes_v2": [],
        "resourceDisplayName": SAML_APP,
        "resourceId": SAML_APP_ID,
        "resourceTenantId": CONTOSO,
        "homeTenantId": CONTOSO,
        "homeTenantName": "",
        "authenticationMethodsUsed": [],
        "authenticationRequirement": "singleFactorAuthentication",
        "signInIdentifier": "adelev@contoso.com",
        "signInEventTypes": ["interactiveUser"],
        "servicePrincipalId": "",
        "userType": "member",
        "flaggedForReview": False,
        "isTenantRestricted": False,
        "autonomousSystemNumber": 64500,
        "crossTenantAccessType": "none",
        "authenticationProtocol": "saml20",
        "incomingTokenType": "none",
        "uniqueTokenIdentifier": "Q2xAbc1RFEuDoQ4fjYzMAA",
        "status": {"errorCode": code, "failureReason": reason, "additionalDetails": details},
        "deviceDetail": {
            "deviceId": "",
            "displayName": "",
            "operatingSystem": "Windows10",
            "browser": "Edge 133.0.0",
            "isCompliant": False,
            "isManaged": False,
            "trustType": "",
        },
        "location": {
            "city": "Redmond",
            "state": "Washington",
            "countryOrRegion": "US",
            "geoCoordinates": {"altitude": None, "latitude": 47.68, "longitude": -122.12},
        },
        "appliedConditionalAccessPolicies": [],
        "authenticationContextClassReferences": [],
        "authenticationDetails": [
            {
                "authenticationStepDateTime": "2026-03-02T09:29:30Z",
                "authenticationMethod": "Password",
                "authenticationMethodDetail": "Password in the cloud",
                "succeeded": True,
                "authenticationStepResultDetail": "Correct password",
                "authenticationStepRequirement": "Primary authentication",
            }
        ],
        "authenticationRequirementPolicies": [],
        "sessionLifetimePolicies": [],
    }
    for k, v in kw.items():
        if k in ("deviceDetail", "location") and isinstance(v, dict):
            e[k] = {**e[k], **v}
        else:
            e[k] = v
    return e


# Column order of the admin center's CSV download (InteractiveSignIns_*.csv), including its quirks: a trailing space
# in "Application ID " and "Resource ID ", "Incoming token type" twice, two spaces in "Autonomous system  number".
CSV_COLUMNS = [
    "Date (UTC)",
    "Request ID",
    "User agent",
    "Correlation ID",
    "User ID",
    "User",
    "Username",
    "User type",
    "Cross tenant access type",
    "Incoming token type",
    "Authentication Protocol",
    "Unique token identifier",
    "Original transfer method",
    "Client credential type",
    "Token Protection - Sign In Session",
    "Token Protection - Sign In Session StatusCode",
    "Application",
    "Application ID ",
    "App owner tenant ID",
    "Resource",
    "Resource ID ",
    "Resource tenant ID",
    "Resource owner tenant ID",
    "Home tenant ID",
    "Home tenant name",
    "IP address",
    "Location",
    "Status",
    "Sign-in error code",
    "Failure reason",
    "Client app",
    "Device ID",
    "Browser",
    "Operating System",
    "Compliant",
    "Managed",
    "Join Type",
    "Multifactor authentication result",
    "Multifactor authentication auth method",
    "Multifactor authentication auth detail",
    "Authentication requirement",
    "Sign-in identifier",
    "Session ID",
    "IP address (seen by resource)",
    "Through Global Secure Access",
    "Global Secure Access IP address",
    "Autonomous system  number",
    "Flagged for review",
    "Token issuer type",
    "Incoming token type",
    "Token issuer name",
    "Latency",
    "Conditional Access",
    "Managed Identity type",
    "Associated Resource Id",
    "Federated Token Id",
    "Federated Token Issuer",
]


def csv_row(e: dict[str, Any]) -> list[str]:
    s, d, loc = e["status"], e["deviceDetail"], e["location"]
    code = s["errorCode"]
    status = "Success" if code == 0 else ("Interrupted" if str(code) in ("50074", "50076", "50140") else "Failure")
    ca = {"notApplied": "Not Applied", "success": "Success", "failure": "Failure"}[e["conditionalAccessStatus"]]
    values = {
        "Date (UTC)": e["createdDateTime"][:19] + "Z",
        "Request ID": e["id"],
        "User agent": e["userAgent"],
        "Correlation ID": e["correlationId"],
        "User ID": e["userId"],
        "User": e["userDisplayName"],
        "Username": e["userPrincipalName"],
        "User type": e["userType"].capitalize(),
        "Cross tenant access type": e["crossTenantAccessType"],
        "Authentication Protocol": e["authenticationProtocol"],
        "Application": e["appDisplayName"],
        "Application ID ": e["appId"],
        "Resource": e["resourceDisplayName"],
        "Resource ID ": e["resourceId"],
        "Resource tenant ID": e["resourceTenantId"],
        "Home tenant ID": e["homeTenantId"],
        "IP address": e["ipAddress"],
        "Location": ", ".join(p for p in (loc["city"], loc["state"], loc["countryOrRegion"]) if p),
        "Status": status,
        "Sign-in error code": str(code),
        "Failure reason": s["failureReason"] or "",
        "Client app": e["clientAppUsed"],
        "Device ID": d["deviceId"],
        "Browser": d["browser"],
        "Operating System": d["operatingSystem"],
        "Compliant": "TRUE" if d["isCompliant"] else "FALSE",
        "Managed": "TRUE" if d["isManaged"] else "FALSE",
        "Join Type": d["trustType"],
        "Authentication requirement": e["authenticationRequirement"],
        "Sign-in identifier": e["signInIdentifier"],
        "Latency": str(e["processingTimeInMilliseconds"]),
        "Conditional Access": ca,
        "Token issuer type": e["tokenIssuerType"],
    }
    return [values.get(c, "") for c in CSV_COLUMNS]


def to_csv(events: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns or CSV_COLUMNS)
    for e in events:
        w.writerow(csv_row(e))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()
