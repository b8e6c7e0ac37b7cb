"""What the wallet page may frame: the approved mini-programs' origins, never its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from saoma.miniprograms.service import MiniPrograms

if TYPE_CHECKING:
    from fastapi import Request


def frame_src(request: Request) -> str:
    """The CSP ``frame-src`` directive of the wallet page.

    Its own origin is left out even if registered: a frame of the wallet's origin with
    ``allow-scripts allow-same-origin`` could lift its own sandbox and read the wallet.
    """
    platform = request.app.state.platform
    minis = MiniPrograms(platform.engine, platform.wallets, platform.identifiers)
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    origins = [o for o in minis.approved_origins() if o != own]
    return "frame-src " + (" ".join(origins) if origins else "'none'")
