"""Regenerate the sign-in log fixtures in this folder: PYTHONPATH=tests python tests/data/signin/make.py"""

from __future__ import annotations

import json
from pathlib import Path

from signinfactory import (
    CONTOSO,
    CORR,
    FABRIKAM,
    OFFICE_APP_ID,
    SAML_APP,
    SAML_APP_ID,
    dumps,
    event,
    policy,
    to_csv,
)

HERE = Path(__file__).resolve().parent

MFA_OK = [
    {
        "authenticationStepDateTime": "2026-03-02T09:29:58Z",
        "authenticationMethod": "Password",
        "authenticationMethodDetail": "Password in the cloud",
        "succeeded": True,
        "authenticationStepResultDetail": "Correct password",
        "authenticationStepRequirement": "Primary authentication",
    },
    {
        "authenticationStepDateTime": "2026-03-02T09:30:01Z",
        "authenticationMethod": "Mobile app notification",
        "authenticationMethodDetail": None,
        "succeeded": True,
        "authenticationStepResultDetail": "MFA successfully completed",
        "authenticationStepRequirement": "Multifactor authentication",
    },
]

ca_failure = event(
    error_code=53000,
    failure_reason="Device is not in required device state: compliant. Conditional Access policy requires a compliant "
    "device, and the device is not compliant. The user must enroll their device with an approved MDM provider like Intune.",
    additional_details="The device is not compliant or not managed by Intune.",
    conditionalAccessStatus="failure",
    authenticationRequirement="multiFactorAuthentication",
    authenticationDetails=MFA_OK,
    deviceDetail={"displayName": "ADELE-LAPTOP", "isCompliant": False, "isManaged": False},
    appliedConditionalAccessPolicies=[
        policy(
            "Require compliant device", "failure", ["RequireCompliantDevice"], "5c2d9e1a-7b44-4f0e-8a31-0c9d2e7f6b10"
        ),
        policy("Require MFA for all users", "success", ["Mfa"], "8e1f4a2b-3c5d-4e6f-9a7b-1c2d3e4f5a6b"),
        policy("Block legacy authentication", "notApplied", ["Block"], "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901"),
        policy("Require ToU for guests (report-only)", "reportOnlyNotApplied", ["d3b0c1a2-Terms-of-use"]),
    ],
)

success = json.loads(json.dumps(ca_failure))  # the same sign-in from a compliant device
success["status"] = {"errorCode": 0, "failureReason": "Other.", "additionalDetails": None}
success["conditionalAccessStatus"] = "success"
for p in success["appliedConditionalAccessPolicies"]:
    if p["result"] == "failure":
        p["result"] = "success"
success["deviceDetail"].update(isCompliant=True, isManaged=True, trustType="Azure AD joined")

guest = event(
    id="e7c1a9f0-2d3b-4c5e-8f61-7a8b9c0d1e2f",
    correlationId="a1b2c3d4-e5f6-4789-9abc-def012345678",
    error_code=50020,
    failure_reason="User account from identity provider does not exist in tenant and cannot access the application in "
    "that tenant. The account needs to be added as an external user in the tenant first.",
    userDisplayName="Kim Akers",
    userPrincipalName="kim@fabrikam.com",
    signInIdentifier="kim@fabrikam.com",
    userId="00000000-0000-0000-0000-000000000000",
    userType="guest",
    homeTenantId=FABRIKAM,
    crossTenantAccessType="b2bCollaboration",
    location={"city": "Oslo", "state": "Oslo", "countryOrRegion": "NO"},
)

interrupt = event(
    id="0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b",
    createdDateTime="2026-03-02T09:29:40.1234567Z",
    error_code=50074,
    failure_reason="Strong Authentication is required.",
    authenticationRequirement="multiFactorAuthentication",
    conditionalAccessStatus="notApplied",
)
after_mfa = event(
    id="1a2b3c4d-5e6f-4708-9a1b-2c3d4e5f6a7b",
    createdDateTime="2026-03-02T09:30:02.7654321Z",
    authenticationRequirement="multiFactorAuthentication",
    authenticationDetails=MFA_OK,
    conditionalAccessStatus="success",
    appliedConditionalAccessPolicies=[policy("Require MFA for all users", "success", ["Mfa"])],
)
page = {
    "@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
    "value": [after_mfa, interrupt],  # Graph lists the newest first
}


def admin(i: int, **kw: object) -> dict[str, object]:
    base = {"id": f"{i:08x}-1111-4222-8333-{i:012x}", "correlationId": f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}"}
    base.update(kw)
    return event(**base)


block = [policy("Block access from outside the EU", "failure", ["Block"], "9a8b7c6d-5e4f-4321-8fed-cba987654321")]
download = [
    admin(
        1,
        createdDateTime="2026-03-02T08:01:10Z",
        userPrincipalName="alex@contoso.com",
        userDisplayName="Alex Wilber",
        error_code=53003,
        failure_reason="Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        conditionalAccessStatus="failure",
        appliedConditionalAccessPolicies=block,
        location={"city": "Toronto", "state": "Ontario", "countryOrRegion": "CA"},
    ),
    admin(
        2,
        createdDateTime="2026-03-02T08:03:44Z",
        userPrincipalName="alex@contoso.com",
        userDisplayName="Alex Wilber",
        error_code=53003,
        failure_reason="Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        conditionalAccessStatus="failure",
        appliedConditionalAccessPolicies=block,
        location={"city": "Toronto", "state": "Ontario", "countryOrRegion": "CA"},
    ),
    admin(
        3,
        createdDateTime="2026-03-02T08:10:00Z",
        userPrincipalName="bianca@contoso.com",
        userDisplayName="Bianca Pisani",
        error_code=50105,
        failure_reason="Your administrator has configured the application Contoso Wiki to block users unless they are specifically granted ('assigned') access to the application.",
    ),
    admin(
        4,
        createdDateTime="2026-03-02T08:11:30Z",
        userPrincipalName="bianca@contoso.com",
        userDisplayName="Bianca Pisani",
        error_code=50105,
        failure_reason="Your administrator has configured the application Contoso Wiki to block users unless they are specifically granted ('assigned') access to the application.",
    ),
    admin(
        5,
        createdDateTime="2026-03-02T08:12:02Z",
        userPrincipalName="bianca@contoso.com",
        userDisplayName="Bianca Pisani",
        error_code=50105,
        failure_reason="Your administrator has configured the application Contoso Wiki to block users unless they are specifically granted ('assigned') access to the application.",
    ),
    admin(
        6,
        createdDateTime="2026-03-02T08:20:00Z",
        userPrincipalName="diego@contoso.com",
        userDisplayName="Diego Siciliani",
        error_code=50126,
        failure_reason="Error validating credentials due to invalid username or password.",
    ),
    admin(
        7,
        createdDateTime="2026-03-02T08:30:00Z",
        userPrincipalName="megan@contoso.com",
        userDisplayName="Megan Bowen",
        correlationId="77777777-aaaa-4bbb-8ccc-777777777777",
        error_code=50076,
        failure_reason="Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'Contoso Wiki'.",
        authenticationRequirement="multiFactorAuthentication",
    ),
    admin(
        8,
        createdDateTime="2026-03-02T08:30:25Z",
        userPrincipalName="megan@contoso.com",
        userDisplayName="Megan Bowen",
        correlationId="77777777-aaaa-4bbb-8ccc-777777777777",
        authenticationRequirement="multiFactorAuthentication",
        authenticationDetails=MFA_OK,
    ),
    admin(9, createdDateTime="2026-03-02T08:40:00Z", userPrincipalName="lee@contoso.com", userDisplayName="Lee Gu"),
    # non-interactive: a token refresh for Office in the same session
    admin(
        10,
        createdDateTime="2026-03-02T08:41:00Z",
        userPrincipalName="lee@contoso.com",
        userDisplayName="Lee Gu",
        appId=OFFICE_APP_ID,
        appDisplayName="OfficeHome",
        resourceDisplayName="Office 365 SharePoint Online",
        resourceId="00000003-0000-0ff1-ce00-000000000000",
        isInteractive=False,
        signInEventTypes=["nonInteractiveUser"],
        authenticationProtocol="none",
        incomingTokenType="refreshToken",
    ),
]

unknown_cols = to_csv(download[:3]).decode("utf-8-sig").splitlines()
unknown_cols = [unknown_cols[0] + ",Ticket,Reviewer"] + [r + ",INC-1042,jdoe" for r in unknown_cols[1:]]

other_json = [
    {
        "uuid": "f3c2a1b0-1e2d-11ef-9a8b-7c6d5e4f3a21",
        "published": "2026-03-02T09:29:31.000Z",
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "severity": "WARN",
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        "actor": {"id": "00u1abcd", "type": "User", "alternateId": "adelev@contoso.com", "displayName": "Adele Vance"},
        "client": {"ipAddress": "203.0.113.45", "userAgent": {"browser": "CHROME"}},
    }
]
other_csv = (
    "eventTime,eventName,sourceIPAddress,userIdentity,errorCode,errorMessage\r\n"
    "2026-03-02T09:29:31Z,ConsoleLogin,203.0.113.45,adele,Failed authentication,Failed authentication\r\n"
)

files = {
    "graph_event_ca_failure.json": dumps(ca_failure),
    "graph_event_guest.json": dumps(guest),
    "graph_event_success.json": dumps(success),
    "graph_page_mfa_interrupt.json": dumps(page),
    "admin_download.json": dumps(download),
    "admin_download.csv": to_csv(download),
    "bad_truncated.json": dumps(download)[: len(dumps(download)) // 2],
    "unknown_columns.csv": ("\ufeff" + "\r\n".join(unknown_cols) + "\r\n").encode("utf-8"),
    "other_product.json": json.dumps(other_json, indent=2).encode(),
    "other_product.csv": other_csv.encode(),
}
for name, data in files.items():
    (HERE / name).write_bytes(data)
print("wrote", ", ".join(files))
_ = (CONTOSO, CORR, SAML_APP, SAML_APP_ID)
