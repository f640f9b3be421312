"""Hints for a mismatch: the small difference between two identifiers, and how Entra's editors name things."""

from __future__ import annotations

from urllib.parse import urlsplit

ATTRIBUTES_AND_CLAIMS = "Entra admin center → Enterprise applications → your app → Single sign-on → Attributes & Claims"


def near_miss(expected: str, actual: str) -> str | None:
    """Name the small difference between two identifiers / URLs, or None when they differ a lot."""
    if expected.strip() == actual.strip():
        return "they differ only in surrounding white space"
    if expected.rstrip("/") == actual.rstrip("/"):
        return "they differ only in a trailing slash"
    if expected.lower() == actual.lower():
        return "they differ only in upper/lower case (the comparison is case-sensitive)"
    e, a = urlsplit(expected), urlsplit(actual)
    if e.netloc and a.netloc:
        if (e.netloc.lower(), e.path, e.query) == (a.netloc.lower(), a.path, a.query) and e.scheme != a.scheme:
            return f"they differ only in the scheme ({a.scheme} vs {e.scheme})"
        if e.hostname == a.hostname and e.path.rstrip("/") == a.path.rstrip("/") and e.port != a.port:
            return f"they differ only in the port ({a.port or 'default'} vs {e.port or 'default'})"
        if e.hostname == a.hostname and e.path.rstrip("/").lower() == a.path.rstrip("/").lower():
            return "they differ only in the case of the path"
        if e.hostname == a.hostname:
            return "same host, different path"
    return None


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
