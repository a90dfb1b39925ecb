"""URL sanitising and personal-data redaction for touchpoints (reliability.md §6).

Personal data never reaches a touchpoint: e-mail addresses anywhere and phone-like numbers in
parameter values are replaced by ``redacted``; query parameters named like personal data
(``email=``, ``phone=``...) and URL user-info are dropped; fragments are dropped (the caller
still reads UTMs found in a ``#...?utm_source=`` fragment, see :func:`split_url`). Phone
detection covers ``+`` international numbers, ``(555) 123-4567`` layouts and 10-11 digit numbers
starting with 0; bare digit runs stay, because ad platforms use them as ids. Click-id parameters
(:data:`CLICK_ID_PARAMS`) are kept verbatim.

:mod:`closedloop.sync.touchpoints` builds on this module and re-exports its public names.

Errors: every parsing failure is a :class:`TouchpointError`, a :class:`ValueError`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "CLICK_ID_PARAMS",
    "INVALID_CHARS",
    "MAX_INPUT_LENGTH",
    "MAX_URL_LENGTH",
    "PII_PARAMS",
    "TouchpointError",
    "redact_pii",
    "sanitise_url",
    "split_url",
]

_REFERENCE_CLICK_IDS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id", "ttclid")
CLICK_ID_PARAMS = (*_REFERENCE_CLICK_IDS, "dclid", "twclid", "sccid", "epik", "yclid")
_EMAIL_PARAMS = {"email", "e-mail", "e_mail", "mail", "emailaddress", "email_address"}
_NAME_PARAMS = {"name", "firstname", "first_name", "fname", "lastname", "last_name", "lname"}
_CONTACT_PARAMS = {"phone", "phone_number", "tel", "mobile", "address"}
PII_PARAMS = frozenset({*_EMAIL_PARAMS, *_NAME_PARAMS, *_CONTACT_PARAMS})
MAX_URL_LENGTH = 2048
MAX_INPUT_LENGTH = 32_768
INVALID_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
"""Control characters and lone surrogates: never allowed in a touchpoint value."""
_EMAIL = re.compile(r"[\w.%+!#$'*^`{|}~-]{1,64}@(?:[\w-]{1,63}\.){1,8}[\w-]{2,63}")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d(?:[\s().-]{0,2}\d){7,14}|\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}|0\d{9,10})(?!\w)"
)
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_HOST = re.compile(r"[\w.~-]+|[0-9a-f:.]+")  # a name (IDN included) or an IPv6 address


class TouchpointError(ValueError):
    """A value cannot become (part of) a touchpoint; the message says why."""


def redact_pii(text: str) -> str:
    """``text`` with e-mail addresses and phone-like numbers replaced by ``redacted``.

    Percent-encoded personal data (``jane%40example.com``, even encoded twice or three times)
    is found too; the text is then returned decoded, with the data redacted.
    """
    decoded = text
    for _ in range(3):
        decoded = unquote(decoded, errors="replace") if "%" in decoded else decoded
    if decoded != text and (("@" in decoded and _EMAIL.search(decoded)) or _PHONE.search(decoded)):
        text = decoded
    while "@" in text:  # again until stable: "a@b.cc@d.ee" hides a second address
        text, found = _EMAIL.subn("redacted", text)
        if not found:
            break
    return _PHONE.sub("redacted", text) if any(c.isdigit() for c in text) else text


def split_url(url: str, schemes: tuple[str, ...]) -> tuple[str, str, str, str, str]:
    """Split ``url``, adding ``https://`` when the scheme is missing.

    Args:
        url: an absolute URL, a scheme-less one (``example.com/x``) or a path (``/pricing``).
        schemes: the schemes accepted.

    Returns:
        Scheme, lower-cased host[:port] without user-info, path, query and fragment.

    Raises:
        TouchpointError: the URL is not a string, is unparseable, too long, has control
            characters, an invalid host or another scheme than ``schemes``.
    """
    if not isinstance(url, str):
        raise TouchpointError(f"a URL must be a string, got {type(url).__name__}")
    text = url.strip()
    if len(text) > MAX_INPUT_LENGTH or INVALID_CHARS.search(text):
        raise TouchpointError("URL too long or contains control characters")
    scheme = _SCHEME.match(text)
    if text.startswith("//"):
        text = "https:" + text
    elif not text.startswith("/") and not (
        scheme and (text[scheme.end() :].startswith("//") or "." not in scheme.group(1))
    ):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError as exc:
        raise TouchpointError(f"unparseable URL: {exc}") from exc
    if parts.scheme and parts.scheme not in schemes:
        raise TouchpointError(f"unsupported URL scheme {parts.scheme!r}")
    if (parts.scheme or parts.netloc) and not _HOST.fullmatch(parts.hostname or ""):
        raise TouchpointError(f"URL without a valid host: {parts.netloc!r}")
    return (
        parts.scheme,
        parts.netloc.rpartition("@")[2].lower(),
        parts.path,
        parts.query,
        parts.fragment,
    )


def _clean_pair(raw: str) -> str | None:
    """One ``name=value`` of a query string, kept raw, redacted or dropped (None)."""
    name, _, value = raw.partition("=")
    key = unquote_plus(name, errors="replace").strip().lower()
    if not raw or key in PII_PARAMS:
        return None
    if key in CLICK_ID_PARAMS:
        return raw
    decoded = unquote_plus(value, errors="replace")
    clean = redact_pii(decoded)
    if clean == decoded and "@" not in key:
        return raw
    return f"{name}={quote_plus(clean)}" if key.startswith("utm_") else None


def sanitise_url(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """``url`` without personal data, user-info or fragment, at most 2048 characters.

    A missing scheme becomes ``https://``; a path-only URL (``/pricing``) stays path-only.

    Raises:
        TouchpointError: the URL is unparseable, too long, has control characters or another
            scheme than ``schemes``.
    """
    scheme, netloc, path, query, _ = split_url(url, schemes)
    segments = [unquote(s, errors="replace") for s in path.split("/")]
    path = "/".join(
        quote(redact_pii(d), safe="@:!$&'()*+,;=~") if "@" in d else s
        for s, d in zip(path.split("/"), segments, strict=True)
    )
    query = "&".join(p for p in map(_clean_pair, query.split("&")) if p)
    text = urlunsplit((scheme, netloc, path, query, "")).strip()
    if len(text) > MAX_URL_LENGTH:  # cut, without leaving half an escape or a dangling separator
        text = re.sub(r"%[0-9A-Fa-f]?$", "", text[:MAX_URL_LENGTH]).rstrip("?&")
    return text
