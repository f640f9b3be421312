"""Hints for a mismatch: the small difference between two identifiers, and how Entra's editors name things."""

from __future__ import annotations

from ..entra import GUID
from ..model import Values
from ..urldiff import differences

ATTRIBUTES_AND_CLAIMS = "Entra admin center → Enterprise applications → your app → Single sign-on → Attributes & Claims"


def near_miss(expected: str, actual: str) -> str | None:
    """Every small difference between two identifiers / URLs at once (scheme, host case, port, path case, trailing
    slash, ...), or None when they simply differ."""
    found = differences(expected, actual)
    if not found or found == ["different values"]:
        return None
    return ("they differ only in " if len(found) == 1 else "they differ in: ") + ", ".join(found)


def mismatch_fix(setting: str, actual: str, expected: str, extra: str = "") -> str:
    hint = near_miss(expected, actual)
    text = f"{setting} in Entra is `{actual}`, the SP expects `{expected}`: make them equal"
    if hint:
        text += f" ({hint})"
    return text + (f". {extra}" if extra else ".")


def entra_name(uri: str) -> str:
    """How Entra's claim editor splits a claim name: Name and Namespace."""
    if "/" in uri.rstrip("/") and uri.startswith(("http://", "https://")):
        namespace, _, name = uri.rstrip("/").rpartition("/")
        return f"Name `{name}` and Namespace `{namespace}`"
    return f"Name `{uri}` and an empty Namespace"


def local_name(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


_SOURCE_ATTRIBUTES = ("objectidentifier", "emailaddress", "name", "upn")


def name_id_source(values: Values) -> str | None:
    """Which Entra attribute the NameID value looks like it came from."""
    name_id = values.name_id
    if not name_id:
        return None
    # Mail addresses and UPNs compare case-insensitively: a NameID in another case is still that attribute. Only
    # the attributes asked about below are folded (a later one of the same name wins, as in a dict).
    attrs: dict[str, set[str]] = {}
    for a in values.attributes:
        name = a.name.lower()
        if name.endswith(_SOURCE_ATTRIBUTES) and (key := name.rsplit("/", 1)[-1]) in _SOURCE_ATTRIBUTES:
            attrs[key] = set(map(str.lower, a.values))
    folded = name_id.lower()
    # GUID is anchored (^…$, $ also before a final newline): only 36 or 37 characters can match, and skipping the
    # regex engine for anything else saves more than the match itself on a cold cache.
    if folded in attrs.get("objectidentifier", set()) or (36 <= len(name_id) <= 37 and GUID.match(name_id)):
        return "user.objectid"
    if folded in attrs.get("emailaddress", set()):
        return "user.mail"
    if folded in attrs.get("name", set()) or folded in attrs.get("upn", set()):
        return "user.userprincipalname"
    if name_id.startswith("_") or (values.name_id_format or "").endswith(":transient"):
        return "transient (new every sign-in)"
    if "@" in name_id:
        return "user.mail or user.userprincipalname"
    if "\\" in name_id or (len(name_id) <= 20 and " " not in name_id):
        return "user.onpremisessamaccountname (looks like an account name)"
    return None
