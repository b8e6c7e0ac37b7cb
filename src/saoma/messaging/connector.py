"""The interface a messaging integration implements, and a sandbox with the same shape.

A real connector hands a one-time code to an SMS gateway (for a phone number) or a mail service
(for an e-mail address). Saoma calls it after the code's hash is committed, so a connector that
fails leaves nothing half done: the person asks for the code again. The sandbox sends nothing
anywhere: it writes each message to the database, so every process of an installation sees the
same outbox, and in demo mode the pages show it (``GET /v1/sandbox/messages``), the way the
sandbox bank stands in for a bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from saoma.core.ids import new_id, now_us, rfc3339
from saoma.db import read, write
from saoma.messaging import tables as m

Channel = Literal["sms", "email"]
RECENT_MAX = 100


def channel_of(identifier: str) -> Channel:
    """Phones are E.164 (``+`` and digits); everything else a login can be is an e-mail address."""
    return "sms" if identifier.startswith("+") else "email"


def code_text(code: str, expires_in_s: int) -> str:
    minutes = max(1, expires_in_s // 60)
    return (
        f"Saoma: your code is {code}. It expires in {minutes} minutes. "
        "Nobody from Saoma will ever ask you for it."
    )


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: str
    channel: Channel
    to: str
    body: str
    sent_at_us: int

    def view(self) -> dict[str, str]:
        return {
            "id": self.id,
            "channel": self.channel,
            "to": self.to,
            "body": self.body,
            "sent_at": rfc3339(self.sent_at_us),
        }


class Messenger(Protocol):
    def send_code(self, to: str, code: str, *, expires_in_s: int) -> None:
        """Send ``code`` to the phone number or e-mail address ``to``; raise if it cannot go."""


class SandboxMessenger:
    """Records every message in ``sandbox_messages`` instead of sending it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def send_code(self, to: str, code: str, *, expires_in_s: int) -> None:
        with write(self.engine) as conn:
            conn.execute(
                insert(m.sandbox_messages).values(
                    id=new_id("msg"),
                    channel=channel_of(to),
                    recipient=to,
                    body=code_text(code, expires_in_s),
                    created_at_us=now_us(),
                )
            )

    def recent(self, *, to: str | None = None, limit: int = 20) -> list[SentMessage]:
        """The newest messages first, to one recipient or to anyone."""
        query = select(m.sandbox_messages)
        if to is not None:
            query = query.where(m.sandbox_messages.c.recipient == to)
        query = query.order_by(m.sandbox_messages.c.created_at_us.desc()).limit(
            max(1, min(limit, RECENT_MAX))
        )
        with read(self.engine) as conn:
            rows = conn.execute(query).all()
        return [SentMessage(r.id, r.channel, r.recipient, r.body, r.created_at_us) for r in rows]
