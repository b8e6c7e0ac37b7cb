"""Registering and approving mini-programs; the payer's consent as OAuth 2.0 codes and tokens.

Consent rules are single statements: a code becomes a token by one conditional UPDATE (unused,
unexpired, of a mini-program the calling merchant owns and an operator approved), so one code
is one token however many exchanges race; a revocation is one UPDATE of the payer's grants,
and every read with a token checks ``revoked_at_us = 0`` in the same query, so a revoked token
is refused from the next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from saoma.core.errors import (
    AccessTokenInvalid,
    InvalidGrant,
    InvalidRequest,
    NotFound,
    OriginTaken,
)
from saoma.core.ids import new_id, now_us, rfc3339, token_hash
from saoma.db import insert_below, lock_row, read, write
from saoma.merchants.service import Merchant, check_text
from saoma.miniprograms import rules
from saoma.miniprograms import tables as t
from saoma.wallets.identifiers import Identifiers
from saoma.wallets.service import Consumer, Wallets

PER_MERCHANT_MAX = 20  # mini-programs one merchant may register
LISTED_MAX = 200  # approved mini-programs the wallet lists
GRANTS_LISTED_MAX = 200
TOKEN_PREFIX = "mat_"  # noqa: S105  # nosec B105 - a prefix, not a secret
CODE_PREFIX = "mac_"
_mp, _code, _grant = t.mini_programs.c, t.mini_codes.c, t.mini_grants.c


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "name": row.name,
        "name_zh": row.name_zh,
        "icon": row.icon,
        "origin": row.origin,
        "scopes": rules.scope_list(row.scopes),
        "state": row.state,
        "created_at": rfc3339(row.created_at_us),
        "approved_at": rfc3339(row.approved_at_us) if row.approved_at_us else None,
    }


def subject(salt: str, consumer_id: str) -> str:
    """The payer's id as one service knows it: the same for that service, unrelated elsewhere."""
    digest = hmac.new(salt.encode(), consumer_id.encode(), hashlib.sha256).hexdigest()
    return "u_" + digest[:32]


class MiniPrograms:
    def __init__(self, engine: Engine, wallets: Wallets, identifiers: Identifiers) -> None:
        self.engine = engine
        self.wallets = wallets
        self.identifiers = identifiers

    # --- merchants and operators ------------------------------------------------------------

    def register(
        self,
        merchant: Merchant,
        *,
        name: str,
        name_zh: str,
        icon: str,
        origin: str,
        scopes: list[str],
        allow_private: bool,
    ) -> dict[str, Any]:
        """A new mini-program, pending an operator's approval."""
        mini_program_id = new_id("mp")
        values: dict[str, object] = {
            "id": mini_program_id,
            "merchant_id": merchant.id,
            "name": check_text("name", name, rules.NAME_CHARS_MAX),
            "name_zh": check_text("name_zh", name_zh, rules.NAME_CHARS_MAX),
            "icon": rules.check_icon(icon),
            "origin": rules.check_origin(origin, allow_private=allow_private),
            "scopes": rules.check_scopes(scopes),
            "state": "pending",
            "subject_salt": secrets.token_hex(32),
            "created_at_us": now_us(),
            "approved_at_us": 0,
        }
        try:
            with write(self.engine) as conn:
                lock_row(conn, "merchants", merchant.id)  # queues the merchant's registrations
                mine = _mp.merchant_id == merchant.id
                if not insert_below(conn, t.mini_programs, values, mine, PER_MERCHANT_MAX):
                    raise InvalidRequest(
                        f"a merchant registers {PER_MERCHANT_MAX} mini-programs at most",
                        field="name",
                    )
        except IntegrityError as exc:
            raise OriginTaken(
                f"another mini-program is served from {values['origin']}", field="origin"
            ) from exc
        return self.get(mini_program_id)

    def get(self, mini_program_id: str) -> dict[str, Any]:
        return view(self._row(mini_program_id))

    def _row(self, mini_program_id: str, *, approved: bool = False) -> Any:
        query = select(t.mini_programs).where(_mp.id == mini_program_id)
        if approved:
            query = query.where(_mp.state == "approved")
        with read(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound.named("mini-program", mini_program_id)
        return row

    def of_merchant(self, merchant: Merchant) -> list[dict[str, Any]]:
        query = (
            select(t.mini_programs)
            .where(_mp.merchant_id == merchant.id)
            .order_by(_mp.created_at_us.desc())
            .limit(PER_MERCHANT_MAX)
        )
        with read(self.engine) as conn:
            return [view(r) for r in conn.execute(query)]

    def approve(self, mini_program_id: str) -> dict[str, Any]:
        """An operator's approval: the wallet lists it and may frame its origin. Approving an
        approved mini-program changes nothing."""
        with write(self.engine) as conn:
            conn.execute(
                update(t.mini_programs)
                .where(_mp.id == mini_program_id, _mp.state == "pending")
                .values(state="approved", approved_at_us=now_us())
            )
        return self.get(mini_program_id)

    # --- the wallet -------------------------------------------------------------------------

    def approved(self) -> list[dict[str, Any]]:
        query = (
            select(t.mini_programs)
            .where(_mp.state == "approved")
            .order_by(_mp.approved_at_us, _mp.id)
            .limit(LISTED_MAX)
        )
        with read(self.engine) as conn:
            return [view(r) for r in conn.execute(query)]

    def approved_origins(self) -> list[str]:
        query = select(_mp.origin).where(_mp.state == "approved").limit(LISTED_MAX)
        with read(self.engine) as conn:
            return sorted(str(o) for o in conn.execute(query).scalars())

    def merchant_of(self, mini_program_id: str) -> str:
        """The merchant behind an approved mini-program: the only one it may ask payments for."""
        return str(self._row(mini_program_id, approved=True).merchant_id)

    def authorize(
        self, consumer: Consumer, mini_program_id: str, scopes: list[str]
    ) -> dict[str, Any]:
        """The payer agreed: a single-use code for these scopes, for the service's server."""
        row = self._row(mini_program_id, approved=True)
        granted = rules.check_scopes(scopes, tuple(rules.scope_list(row.scopes)))
        code = CODE_PREFIX + secrets.token_urlsafe(32)
        now = now_us()
        with write(self.engine) as conn:
            conn.execute(
                insert(t.mini_codes).values(
                    code_hash=token_hash(code),
                    mini_program_id=row.id,
                    consumer_id=consumer.id,
                    scopes=granted,
                    created_at_us=now,
                    expires_at_us=now + rules.CODE_TTL_S * 1_000_000,
                    redeemed_at_us=0,
                )
            )
        return {"code": code, "expires_in": rules.CODE_TTL_S, "scope": granted}

    # --- the service's server ---------------------------------------------------------------

    def exchange(self, merchant: Merchant, code: str) -> dict[str, Any]:
        """A code for an access token, once: one conditional UPDATE takes the code."""
        code_hash = token_hash(code)
        now = now_us()
        owned = select(_mp.id).where(_mp.merchant_id == merchant.id, _mp.state == "approved")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with write(self.engine) as conn:
            taken = conn.execute(
                update(t.mini_codes)
                .where(
                    _code.code_hash == code_hash,
                    _code.redeemed_at_us == 0,
                    _code.expires_at_us > now,
                    _code.mini_program_id.in_(owned),
                )
                .values(redeemed_at_us=now)
            ).rowcount
            if taken != 1:
                raise InvalidGrant(field="code")
            row = conn.execute(select(t.mini_codes).where(_code.code_hash == code_hash)).one()
            conn.execute(
                insert(t.mini_grants).values(
                    id=new_id("mg"),
                    mini_program_id=row.mini_program_id,
                    consumer_id=row.consumer_id,
                    scopes=row.scopes,
                    code_hash=code_hash,
                    token_hash=token_hash(token),
                    created_at_us=now,
                    expires_at_us=now + rules.TOKEN_TTL_S * 1_000_000,
                    revoked_at_us=0,
                )
            )
            salt = conn.execute(
                select(_mp.subject_salt).where(_mp.id == row.mini_program_id)
            ).scalar_one()
        return {
            "access_token": token,
            "token_type": "Bearer",  # nosec B105 - the token's kind (RFC 6750)
            "expires_in": rules.TOKEN_TTL_S,
            "scope": row.scopes,
            "sub": subject(salt, row.consumer_id),
        }

    def _grant_in_force(self, merchant: Merchant, token: str) -> Any:
        """The grant a token in force stands for, if the merchant owns its service."""
        query = (
            select(_grant.consumer_id, _grant.scopes, _mp.subject_salt)
            .join(t.mini_programs, _mp.id == _grant.mini_program_id)
            .where(
                _grant.token_hash == token_hash(token),
                _grant.revoked_at_us == 0,
                _grant.expires_at_us > now_us(),
                _mp.merchant_id == merchant.id,
            )
        )
        with read(self.engine) as conn:
            row = conn.execute(query).first()
        if row is None:
            raise AccessTokenInvalid()
        return row

    def payer_of(self, merchant: Merchant, token: str) -> str:
        """The wallet a token in force was granted by: the payer a service's server may name
        (in a mandate's request) without knowing any of the payer's ids."""
        return str(self._grant_in_force(merchant, token).consumer_id)

    def userinfo(self, merchant: Merchant, token: str) -> dict[str, Any]:
        """The profile fields the payer granted, read with a token still in force."""
        row = self._grant_in_force(merchant, token)
        scopes = rules.scope_list(row.scopes)
        info: dict[str, Any] = {"sub": subject(row.subject_salt, row.consumer_id)}
        if "profile.masked_name" in scopes:
            info["masked_name"] = rules.masked_name(self.wallets.get(row.consumer_id).display_name)
        if "profile.phone" in scopes:
            phones = [
                i["identifier"]
                for i in self.identifiers.of(row.consumer_id)
                if i["kind"] == "phone" and i["verified"]
            ]
            info["phone"] = phones[0] if phones else None
        info["scope"] = row.scopes
        return info

    # --- the payer's grants -----------------------------------------------------------------

    def grants_of(self, consumer: Consumer) -> list[dict[str, Any]]:
        """The services the payer authorised and has not revoked: one entry per service."""
        query = (
            select(
                t.mini_programs, _grant.scopes.label("granted"), _grant.created_at_us.label("at")
            )
            .join(t.mini_programs, _mp.id == _grant.mini_program_id)
            .where(
                _grant.consumer_id == consumer.id,
                _grant.revoked_at_us == 0,
                _grant.expires_at_us > now_us(),
            )
            .order_by(_grant.created_at_us.desc())
            .limit(GRANTS_LISTED_MAX)
        )
        found: dict[str, dict[str, Any]] = {}
        with read(self.engine) as conn:
            for row in conn.execute(query):
                entry = found.setdefault(
                    row.id, view(row) | {"granted_scopes": [], "granted_at": rfc3339(row.at)}
                )
                for scope in rules.scope_list(row.granted):
                    if scope not in entry["granted_scopes"]:
                        entry["granted_scopes"].append(scope)
        return list(found.values())

    def revoke(self, consumer: Consumer, mini_program_id: str) -> int:
        """Withdraw everything the payer granted the service: its tokens stop working at once,
        and a code not yet exchanged can no longer be. The grants revoked, counted."""
        self._row(mini_program_id)
        now = now_us()
        with write(self.engine) as conn:
            conn.execute(
                update(t.mini_codes)
                .where(
                    _code.consumer_id == consumer.id,
                    _code.mini_program_id == mini_program_id,
                    _code.redeemed_at_us == 0,
                )
                .values(expires_at_us=0)
            )
            return int(
                conn.execute(
                    update(t.mini_grants)
                    .where(
                        _grant.consumer_id == consumer.id,
                        _grant.mini_program_id == mini_program_id,
                        _grant.revoked_at_us == 0,
                    )
                    .values(revoked_at_us=now)
                ).rowcount
            )
