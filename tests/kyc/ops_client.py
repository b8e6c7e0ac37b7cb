"""An operator's API client for tests: the session token, and the typed reason when given."""

from __future__ import annotations

from saoma.client import _Base
from support_ops import OpsUser


class OpsClient(_Base):
    def __init__(self, base_url: str, user: OpsUser, reason: str | None = None) -> None:
        super().__init__(base_url)
        self.user = user
        self.reason = reason

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return self.user.headers(self.reason)
