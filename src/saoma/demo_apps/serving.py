"""What every demo mini-program's server shares: a merchant client signing with the service's
own key, the payer's sign-in (a login code exchanged for a token, the granted profile read),
the page's Content-Security-Policy, the small JSON actions its page calls, and a thread of
``saoma demo`` to serve it on."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from saoma import signing
from saoma.client import MerchantClient, SaomaError


class Refused(ValueError):
    """A request the service answers with a clear refusal naming the field at fault (``status``
    403 when the thing asked for is someone else's)."""

    def __init__(self, message: str, field: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class MerchantSide:
    """A service's server side: Saoma sees only its signed requests."""

    def __init__(self, saoma_url: str, key_id: str, private_key_b64: str) -> None:
        self.key = signing.private_key_from_b64(private_key_b64)
        self.key_id = key_id
        self.saoma = MerchantClient(saoma_url, key_id=key_id, private_key=self.key)

    def payer_profile(self, code: str) -> tuple[str, dict[str, Any]]:
        """The payer agreed in the wallet: exchange the login code; the token and what they
        granted (``sub``, the payer's id for this service, and the masked name)."""
        token = self.saoma.request(
            "POST", "/v1/mini/tokens", {"grant_type": "authorization_code", "code": code}
        )["access_token"]
        return token, self.userinfo(token)

    def payer_name(self, code: str) -> tuple[str, str]:
        """The token and the masked name the payer granted."""
        token, profile = self.payer_profile(code)
        return token, str(profile.get("masked_name") or "")

    def userinfo(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self.saoma.request("GET", "/v1/mini/userinfo", access_token=token)
        return result


def page_csp(wallet_origin: str, *, framed: bool = True) -> str:
    """A service page's policy: its own scripts and the wallet's bridge, framed only by the
    wallet; a page of its staff (``framed=False``) needs no bridge and is framed by no one."""
    scripts, ancestors = (wallet_origin, wallet_origin) if framed else ("", "'none'")
    return (
        f"script-src 'self' {scripts}; style-src 'self'; img-src 'self' data:;"
        f" connect-src 'self'; frame-ancestors {ancestors}; base-uri 'none'"
    ).replace(" ;", ";")


def page_response(page: str, wallet_origin: str, *, framed: bool = True) -> Response:
    """A service's page with the wallet's bridge script put in, under :func:`page_csp`."""
    html = page.replace("{bridge}", f"{wallet_origin}/static/saoma-bridge.js")
    csp = page_csp(wallet_origin, framed=framed)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


def action(work: Any) -> Any:
    """A JSON action of the service's page: a JSON object in, ``work``'s answer out; a refusal
    is ``{"error": …}`` (with ``field`` when one is at fault), Saoma's own a 502 with its slug."""

    async def handle(request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("a JSON object")
            return JSONResponse(await run_in_threadpool(work, body))
        except Refused as exc:
            refused = {"error": str(exc)} | ({"field": exc.field} if exc.field else {})
            return JSONResponse(refused, status_code=exc.status)
        except (LookupError, ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except SaomaError as exc:
            return JSONResponse({"error": exc.slug}, status_code=502)

    return handle


MEDIA = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def assets(folder: Path, names: Collection[str]) -> Callable[[Request], Response]:
    """The route serving a service's static files: only ``names``, from ``folder``."""

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in names:
            return Response(status_code=404)
        return FileResponse(folder / name, media_type=MEDIA[Path(name).suffix])

    return asset


def run_alone(
    description: str, argv: list[str] | None, start: Callable[[str, dict[str, Any]], Starlette]
) -> None:
    """Run a demo service on its own: ``start(saoma_url, key)`` makes its app from Saoma's URL
    (as browsers see it) and the key file (``{"key_id": …, "private_key": <base64>}``, and
    whatever else the service keeps there)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--saoma-url", required=True, help="Saoma's API and wallet, as browsers see it."
    )
    parser.add_argument("--key-file", required=True, type=Path)
    args = parser.parse_args(argv)
    key = json.loads(args.key_file.read_text())
    app = start(args.saoma_url.rstrip("/"), key)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def serve_in_thread(app: Starlette, host: str, port: int, name: str = "demo") -> threading.Thread:
    """Serve ``app`` on a daemon thread (``saoma demo`` beside the API)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    return thread
