"""The pages people use: the wallet, the cashier, the dashboard and the demo start page.

Pages are static shells; their scripts call the JSON API (``/v1``) with a session cookie that
only these routes set (HttpOnly, SameSite=Strict). Assets are served from ``static/``: nothing is
fetched from the internet and nothing needs building.
"""

from __future__ import annotations

import html
import io
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from pydantic import Field, StrictStr

from saoma.api import deps, ops_deps
from saoma.api.responses import problems
from saoma.api.schemas import Body
from saoma.core.errors import DemoOnly, NotFound
from saoma.core.ids import now_us
from saoma.merchants.service import Merchant
from saoma.miniprograms.pages import frame_src
from saoma.payments import codes
from saoma.qr import images
from saoma.wallets.signup import open_wallet

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGES = HERE / "pages"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
COOKIES = {"consumer": deps.CONSUMER_COOKIE, "merchant": deps.MERCHANT_COOKIE}
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
}
SCANNING = ("vendor/jsQR.js", "vendor/qrcode.js", "scan.js")
SCRIPTS = {
    "start": ("vendor/qrcode.js", "saoma.js"),
    "wallet": (
        *SCANNING,
        "saoma.js",
        "code128.js",
        "disputes.js",
        "access.js",
        "frozen.js",
        "bills.js",
        "wallet-pinpad.js",
        "wallet-extras.js",
        "wallet-coupons.js",
        "wallet-mini.js",
        "mandates.js",
    ),
    "cashier": (*SCANNING, "saoma.js"),
    "dashboard": (
        "vendor/qrcode.js",
        "saoma.js",
        "disputes.js",
        "access.js",
        "frozen.js",
        "onboarding.js",
        "dashboard-words.js",
        "dashboard-charts.js",
        "dashboard-campaigns.js",
        "dashboard-coupons.js",
        "dashboard-mini.js",
    ),
    # The page's own script first here: the console's features build on it.
    "console": ("saoma.js", "access.js", "console.js", "console-actions.js", "console-views.js"),
}
# Pages allow only their own origin: no inline script, no third-party anything.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)
Shop = Annotated[Merchant, Depends(deps.merchant)]


class WebSignIn(Body):
    kind: Literal["consumer", "merchant"]
    login: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)


class WebSignUp(Body):
    login: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)
    display_name: StrictStr = Field(default="", max_length=64)


class WebMerchantSignUp(Body):
    login: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)
    name: StrictStr = Field(default="", max_length=64)
    name_zh: StrictStr = Field(default="", max_length=64)
    city: StrictStr = Field(default="Shenzhen", max_length=64)
    category_code: StrictStr = Field(default="5814", max_length=4)


class ConsoleSignIn(Body):
    login: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)
    code: StrictStr = Field(max_length=16)


class DemoSignIn(Body):
    kind: Literal["consumer", "merchant"]
    login: StrictStr = Field(max_length=254)


@lru_cache(maxsize=16)
def _template(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def render(request: Request, name: str, title: str) -> HTMLResponse:
    """A page: the shared layout around ``pages/<name>.html``, with the demo banner if on."""
    demo = deps.platform_of(request).demo
    banner = (
        '<p class="demo-banner" role="note" data-i18n="demo_banner">'
        "Demo mode: a made-up Shenzhen; anyone can sign in as anyone. No real money.</p>"
        if demo
        else ""
    )
    sources = SCRIPTS.get(name, ())
    if f"{name}.js" not in sources:
        sources = (*sources, f"{name}.js")
    scripts = "\n".join(f'<script src="/static/{src}"></script>' for src in sources)
    page = _template("layout").format(
        title=html.escape(title),
        page=name,
        banner=banner,
        body=_template(name),
        demo="1" if demo else "0",
        scripts=scripts,
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


def _with_cookie(request: Request, response: JSONResponse, kind: str, token: str) -> JSONResponse:
    return deps.with_cookie(request, response, COOKIES[kind], token, COOKIE_MAX_AGE_S)


@router.get("/", response_class=HTMLResponse)
def start_page(request: Request) -> HTMLResponse:
    return render(request, "start", "Saoma")


@router.get("/wallet", response_class=HTMLResponse)
def wallet_page(request: Request) -> HTMLResponse:
    page = render(request, "wallet", "Saoma wallet")
    # The wallet frames the approved mini-programs' origins and nothing else (wallet-mini.js).
    page.headers["Content-Security-Policy"] = CSP + "; " + frame_src(request)
    return page


@router.get("/cashier", response_class=HTMLResponse)
def cashier_page(request: Request) -> HTMLResponse:
    return render(request, "cashier", "Saoma cashier")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> HTMLResponse:
    return render(request, "dashboard", "Saoma dashboard")


@router.get("/console", response_class=HTMLResponse)
def console_page(request: Request) -> HTMLResponse:
    return render(request, "console", "Saoma console")


@router.post("/console/session", responses=problems(401, 422))
def console_sign_in(body: ConsoleSignIn, request: Request) -> JSONResponse:
    """An operator's sign-in from the console: the session goes in the HttpOnly cookie, and the
    browser is kept known (``saoma_device``) so wrong tries elsewhere do not lock it out."""
    device = deps.device_of(request)
    session = deps.platform_of(request).operators.sign_in(
        body.login, body.password, body.code, deps.address_of(request), device
    )
    response = JSONResponse({"operator": session.operator.view()}, status_code=201)
    max_age_s = max(1, (session.expires_at_us - now_us()) // 1_000_000)
    deps.with_device(request, response, device)
    return deps.with_cookie(request, response, ops_deps.OPS_COOKIE, session.token, max_age_s)


@router.delete("/console/session", status_code=204)
def console_sign_out(request: Request) -> Response:
    token = request.cookies.get(ops_deps.OPS_COOKIE, "")
    if token:
        deps.platform_of(request).operators.sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(ops_deps.OPS_COOKIE, path="/")
    return response


@router.get("/static/{name:path}")
def static_file(name: str) -> FileResponse:
    try:
        path = (STATIC / name).resolve()
        found = path.is_relative_to(STATIC.resolve()) and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL in it
        found = False
    if not found:
        raise NotFound.named("file", name[:80])
    media = TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})


@router.get("/wallet-sw.js")
def service_worker() -> FileResponse:
    """The wallet's service worker, served from the root so it may cover /wallet."""
    return FileResponse(
        STATIC / "wallet-sw.js",
        media_type=TYPES[".js"],
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/manifest.webmanifest")
def manifest() -> FileResponse:
    return FileResponse(STATIC / "manifest.webmanifest", media_type=TYPES[".webmanifest"])


@router.get("/p/{packet_id}")
def red_packet_link(packet_id: str) -> RedirectResponse:
    """The link a red packet is shared as: opens it in the wallet."""
    return RedirectResponse(f"/wallet#packet={quote(packet_id, safe='')}", status_code=303)


@router.get("/web/config")
def web_config(request: Request) -> dict[str, Any]:
    """What the pages need to know: demo mode and, in demo mode, who can be signed in as."""
    platform = deps.platform_of(request)
    config: dict[str, Any] = {"demo": platform.demo, "currency": platform.wallets.currency}
    if platform.demo:
        from saoma.demo import CONSUMERS, DEMO_PASSWORD, DEMO_PIN, MERCHANTS, demo_operators

        config["consumers"] = [{"login": c[0], "name": c[1]} for c in CONSUMERS]
        config["merchants"] = [
            {"login": m.login, "name": m.name, "name_zh": m.name_zh, "note": m.note}
            for m in MERCHANTS
        ]
        config["pin"] = DEMO_PIN
        config["password"] = DEMO_PASSWORD
        config["operators"] = [
            {"login": o.login, "role": o.role, "uri": o.uri} for o in demo_operators(platform)
        ]
    return config


@router.post("/web/sessions", responses=problems(401, 422, 429))
def web_sign_in(body: WebSignIn, request: Request) -> JSONResponse:
    platform, device, address = (
        deps.platform_of(request),
        deps.device_of(request),
        deps.address_of(request),
    )
    if body.kind == "consumer":
        token, c = platform.wallets.sign_in(body.login, body.password, address, device)
        answer = {"kind": "consumer", "id": c.id, "display_name": c.display_name}
    else:
        m, token = platform.merchants.sign_in_session(body.login, body.password, address, device)
        answer = {"kind": "merchant", "id": m.id, "name": m.name}
    signed_in = _with_cookie(request, JSONResponse(answer, status_code=201), body.kind, token)
    return deps.with_device(request, signed_in, device)


@router.post("/web/consumers", responses=problems(409, 422))
def web_sign_up(body: WebSignUp, request: Request) -> JSONResponse:
    platform = deps.platform_of(request)
    c, token, verification = open_wallet(
        platform.wallets,
        platform.identifiers,
        body.login,
        body.password,
        body.display_name or body.login[:64],  # a name is 64 characters at most
    )
    answer = {
        "kind": "consumer",
        "id": c.id,
        "display_name": c.display_name,
        "verification": verification,
    }
    return _with_cookie(request, JSONResponse(answer, status_code=201), "consumer", token)


@router.post("/web/merchants", responses=problems(409, 422))
def web_merchant_sign_up(body: WebMerchantSignUp, request: Request) -> JSONResponse:
    """A stall owner's sign-up from the browser: a merchant id and a static code at once."""
    platform = deps.platform_of(request)
    merchant = platform.merchants.sign_up(
        login=body.login,
        password=body.password,
        name=body.name,
        name_zh=body.name_zh,
        city=body.city,
        category_code=body.category_code,
    )
    token = platform.merchants.session_token(merchant.id)
    answer = {"kind": "merchant", "id": merchant.id, "name": merchant.name}
    return _with_cookie(request, JSONResponse(answer, status_code=201), "merchant", token)


@router.post("/web/demo-sessions", responses=problems(404, 422, 429))
def demo_sign_in(body: DemoSignIn, request: Request) -> JSONResponse:
    """Demo mode only: sign in as a demo consumer or merchant in one click."""
    platform = deps.platform_of(request)
    if not platform.demo:
        raise DemoOnly("demo sign-in exists only in demo mode")
    from saoma.demo import DEMO_PASSWORD

    return web_sign_in(WebSignIn(kind=body.kind, login=body.login, password=DEMO_PASSWORD), request)


@router.delete("/web/sessions/{kind}", status_code=204)
def web_sign_out(kind: Literal["consumer", "merchant"], request: Request) -> Response:
    platform = deps.platform_of(request)
    token = request.cookies.get(COOKIES[kind], "")
    if token:
        if kind == "consumer":
            platform.wallets.sign_out(token)
        else:
            platform.merchants.sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(COOKIES[kind], path="/")
    return response


@router.get("/web/sticker.{fmt}", responses=problems(401, 404))
def sticker(fmt: str, shop: Shop) -> Response:
    """The stall's static code as a printable A6 sticker (PNG or PDF, 300 dpi)."""
    if fmt not in ("png", "pdf"):
        raise NotFound.named("sticker format", fmt)
    image = images.sticker(codes.static_payload(shop), shop.name, name_zh=shop.name_zh)
    out = io.BytesIO()
    image.save(out, format=fmt.upper(), dpi=(300, 300), resolution=300.0)
    return Response(
        out.getvalue(),
        media_type="application/pdf" if fmt == "pdf" else "image/png",
        headers={"Content-Disposition": f'inline; filename="saoma-{shop.id}.{fmt}"'},
    )
