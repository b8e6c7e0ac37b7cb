"""What a mini-program's registration may hold, and what its users' profile looks like to it.

Pure functions, no I/O: the origin a service is served from, its icon, the scopes it may ask
for, and the masked name it is shown.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from saoma import targets
from saoma.core.errors import InvalidRequest
from saoma.payments import views

SCOPES = ("profile.masked_name", "profile.phone")
ORIGIN_CHARS_MAX = 200
ICON_BYTES_MAX = 16 * 1024  # decoded; the data: URL is a third longer
ICON_CHARS_MAX = 4 * ICON_BYTES_MAX // 3 + 64
NAME_CHARS_MAX = 32
CODE_TTL_S = 60  # an authorization code: minted when the payer agrees, exchanged at once
TOKEN_TTL_S = 30 * 24 * 3600
LOCAL_HOSTS = ("127.0.0.1", "localhost")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_PNG = b"\x89PNG\r\n\x1a\n"
_ICON_PREFIXES = {"data:image/png;base64,": "png", "data:image/svg+xml;base64,": "svg"}
_DEFAULT_PORTS = {"https": 443, "http": 80}


def _refuse(why: str, field: str) -> InvalidRequest:
    return InvalidRequest(f"{field} {why}", field=field)


def check_origin(text: str, *, allow_private: bool, field: str = "origin") -> str:
    """The origin (``https://host[:port]``) a service is served from, in its one written form.

    Plain http only for a service on this machine (127.0.0.1 or localhost), and only where
    private targets are allowed (demo mode, ``SAOMA_ALLOW_PRIVATE_WEBHOOKS``), as for webhooks.
    """
    text = text.strip()
    if not text or len(text) > ORIGIN_CHARS_MAX:
        raise _refuse(f"must be an https origin of {ORIGIN_CHARS_MAX} characters at most", field)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _refuse("must be an https origin such as https://bike.example.cn", field) from exc
    host = (parts.hostname or "").lower()
    extra = parts.username or parts.password or parts.query or parts.fragment
    if parts.scheme not in _DEFAULT_PORTS or not host or extra or parts.path not in ("", "/"):
        raise _refuse("must be an https origin such as https://bike.example.cn (no path)", field)
    local = host in LOCAL_HOSTS
    if parts.scheme == "http" and not (local and allow_private):
        raise _refuse("must use https (http only for 127.0.0.1 or localhost in demo mode)", field)
    ip = targets.literal_address(host)
    if ip is None and not _HOST.match(host):
        raise _refuse("must name a host in ASCII (punycode for other scripts)", field)
    if ip is not None and ip.version != 4:
        raise _refuse("must name a host or an IPv4 address", field)
    if ip is not None and targets.why_not_public(ip) and not (local and allow_private):
        raise _refuse(f"must be a public internet address, not {ip}", field)
    if local and not allow_private:
        raise _refuse("must be a public internet address, not this machine", field)
    shown_port = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def check_icon(text: str, field: str = "icon") -> str:
    """A small PNG or SVG as a base64 ``data:`` URL (the dashboard turns an upload into one)."""
    text = text.strip()
    kind = next((k for p, k in _ICON_PREFIXES.items() if text.startswith(p)), None)
    if kind is None:
        raise _refuse("must be a data:image/png;base64 or data:image/svg+xml;base64 URL", field)
    if len(text) > ICON_CHARS_MAX:
        raise _refuse(f"must be {ICON_BYTES_MAX // 1024} KB at most", field)
    try:
        raw = base64.b64decode(text.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("is not valid base64", field) from exc
    if len(raw) > ICON_BYTES_MAX:
        raise _refuse(f"must be {ICON_BYTES_MAX // 1024} KB at most", field)
    if kind == "png" and not raw.startswith(_PNG):
        raise _refuse("is not a PNG image", field)
    if kind == "svg":
        try:
            svg = raw.decode("utf-8").lower()
        except UnicodeDecodeError as exc:
            raise _refuse("is not an SVG image in UTF-8", field) from exc
        # Shown only as an <img> (no script runs there); refused anyway, should it be opened.
        if "<svg" not in svg or "<script" in svg or "javascript:" in svg:
            raise _refuse("is not an SVG image without scripts", field)
    return text


def check_scopes(
    scopes: list[str], allowed: tuple[str, ...] = SCOPES, field: str = "scopes"
) -> str:
    """The scopes as stored and shown: known ones, each once, in the catalogue's order."""
    unknown = [s for s in scopes if s not in allowed]
    if unknown:
        raise _refuse(f"may hold only {', '.join(allowed) or 'nothing'}, not {unknown[0]!r}", field)
    if len(set(scopes)) != len(scopes):
        raise _refuse("names a scope twice", field)
    return " ".join(s for s in SCOPES if s in scopes)


def scope_list(stored: str) -> list[str]:
    return stored.split() if stored else []


def masked_name(display_name: str) -> str:
    """The payer's name as a service sees it: masked as merchants see it on payments (the last
    character, ``*敏``; the last word of a Latin name, ``*Wei``), so a merchant running a service
    learns nothing more of the name than its payments show."""
    return views.masked_name(display_name)
