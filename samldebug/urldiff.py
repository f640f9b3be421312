"""Every difference between two identifiers or URLs, named at once (scheme, host case, host, port, path case,
trailing slash, path, query), so an engineer fixes them in one go instead of one per attempt.

Pure string work on values that may come from untrusted input: urllib.parse only, no regular expressions.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"https": 443, "http": 80}.get(scheme)


def differences(expected: str, actual: str) -> list[str]:
    """What differs, as short phrases ("scheme http vs https", "trailing slash"); [] when equal."""
    if expected == actual:
        return []
    e_s, a_s = expected.strip(), actual.strip()
    out: list[str] = []
    if e_s != expected or a_s != actual:
        out.append("surrounding white space")
        if e_s == a_s:
            return out
    try:
        e, a = urlsplit(e_s), urlsplit(a_s)
        e_port, a_port = e.port, a.port
    except ValueError:
        e = a = None  # type: ignore[assignment]
        e_port = a_port = None
    if e is None or a is None or not (e.netloc and a.netloc):
        if e_s.lower() == a_s.lower():
            return [*out, "upper/lower case (the comparison is case-sensitive)"]
        if e_s.rstrip("/") == a_s.rstrip("/"):
            return [*out, "trailing slash"]
        if e_s.startswith("spn:") != a_s.startswith("spn:"):
            return [*out, "an spn: prefix"]
        return [*out, "different values"]
    if e.scheme.lower() != a.scheme.lower():
        out.append(f"scheme {a.scheme} vs {e.scheme}")
    e_host, a_host = e.hostname or "", a.hostname or ""
    e_net = e.netloc.rsplit("@", 1)[-1]
    a_net = a.netloc.rsplit("@", 1)[-1]
    if e_host != a_host:
        out.append(f"host {a_host} vs {e_host}")
    elif e_net.split(":")[0] != a_net.split(":")[0]:
        out.append("host name case")
    same_scheme = e.scheme.lower() == a.scheme.lower()
    if same_scheme and _port(e.scheme.lower(), e_port) != _port(a.scheme.lower(), a_port):
        out.append(f"port {a_port or 'default'} vs {e_port or 'default'}")
    elif same_scheme and e_port != a_port:
        out.append("an explicit default port")
    elif not same_scheme and e_port != a_port:
        out.append(f"port {a_port or 'default'} vs {e_port or 'default'}")
    e_path, a_path = e.path, a.path
    if e_path != a_path:
        if e_path.rstrip("/") == a_path.rstrip("/"):
            out.append(f"trailing slash ({'present' if a_path.endswith('/') else 'missing'} in `{actual}`)")
        elif e_path.rstrip("/").lower() == a_path.rstrip("/").lower():
            out.append("path case (the comparison is case-sensitive)")
            if e_path.endswith("/") != a_path.endswith("/"):
                out.append("trailing slash")
        else:
            out.append(f"path {a_path or '/'} vs {e_path or '/'}")
    if e.query != a.query:
        out.append("query string")
    if e.fragment != a.fragment:
        out.append("fragment")
    return out or ["different values"]


def phrase(expected: str | None, actual: str | None) -> str:
    """' (differences: scheme http vs https, trailing slash)' or ''."""
    if not expected or not actual or expected == actual:
        return ""
    found = differences(expected, actual)
    if found == ["different values"]:
        return ""
    return " (differences: " + ", ".join(found) + ")"


def is_plain_http(url: str | None) -> bool:
    """An http:// URL that is not a loopback one: Entra does not accept it as a Reply URL."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() == "http" and (parts.hostname or "") not in LOCAL_HOSTS
