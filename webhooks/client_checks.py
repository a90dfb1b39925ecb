"""Checks on who is calling the collector: its network, its user agent, its origin.

Privacy: :func:`truncate_ip` reduces a client address to its network (IPv4 /24, IPv6 /48)
before the collector uses it for anything, as a rate-limit key or in a stored row; the full
address is never kept. :func:`is_bot` recognises obvious bots, crawlers, headless browsers and
HTTP libraries by their user agent (a missing user agent counts as a bot). :func:`normalise_origin`
makes ``Origin`` headers and the configured allowlist comparable.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["is_bot", "normalise_origin", "truncate_ip"]

_BOT_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|headless|phantomjs|selenium|puppeteer|playwright|"
    r"lighthouse|pagespeed|preview|monitor|pingdom|uptime|scanner|^curl/|^wget/|"
    r"python-requests|python-urllib|aiohttp|httpx|go-http-client|okhttp|java/|libwww|"
    r"node-fetch|axios/|^$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def truncate_ip(address: str | None) -> str | None:
    """The client's network, not its address: IPv4 to /24, IPv6 to /48 (as ``net/len``).

    IPv4-mapped IPv6 addresses count as IPv4. Returns None for anything unparseable.
    """
    try:
        ip = ipaddress.ip_address((address or "").strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def is_bot(user_agent: str | None) -> bool:
    """Whether the user agent is missing or names an obvious bot, crawler or script."""
    return bool(_BOT_AGENT.search((user_agent or "").strip()))


def normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, default port dropped; None when not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"
