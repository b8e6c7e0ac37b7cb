"""Settings read once from the environment (prefix ``SAOMA_``), failing fast on bad values."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR_DEFAULT = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Every knob an operator can turn. Read once; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="SAOMA_", extra="ignore")

    data_dir: Path = Field(
        default=DATA_DIR_DEFAULT, description="Folder for the embedded database."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means a SQLite file under data_dir.",
    )
    database_direct_url: str = Field(
        default="",
        description="PostgreSQL reached directly when SAOMA_DATABASE_URL goes through a pooler in"
        " transaction mode (PgBouncer): migrations and the ledger use it (docs/processes.md).",
    )
    database_replica_url: str = Field(
        default="",
        description="A PostgreSQL standby for reading work: merchants' reports and statements and"
        " the operators' search, never anything that decides money (docs/failover.md).",
    )
    replica_lag_max_s: float = Field(
        default=30.0,
        ge=0,
        le=86_400,
        description="A standby further behind than this many seconds is passed over for the"
        " primary.",
    )
    ledger_batch_max: int = Field(default=8190, ge=1, le=100_000)
    pool_size: int = Field(default=10, ge=1, le=64, description="Database connections per process.")
    max_in_flight: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="API requests one process holds at once, working or waiting their turn;"
        " beyond, 503 with Retry-After.",
    )
    working_max: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="API requests one process works on at once; the others wait their turn.",
    )
    queue_wait_ms: int = Field(
        default=250,
        ge=1,
        le=600_000,
        description="A request not started within this many milliseconds is answered 503 with"
        " Retry-After, nothing of it done.",
    )
    stream_session_check_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="How often a live event stream checks that its session has not ended.",
    )
    currency: str = Field(default="CNY", description="The currency wallets and merchants use.")
    fee_ppm: int = Field(
        default=6000, ge=0, le=100_000, description="Merchant discount rate, parts per million."
    )
    instant_payout_max: int = Field(
        default=500_000, ge=0, le=10**12, description="An instant payout pays at most this."
    )
    instant_payout_fee_ppm: int = Field(
        default=1_000, ge=0, le=100_000, description="An instant payout's fee, parts per million."
    )
    merchant_overdraft: int = Field(
        default=50_000,
        ge=0,
        le=10**12,
        description="How far refunds may take a merchant below zero after a payout (default).",
    )
    reconcile_daily: bool = Field(
        default=False,
        description="Reconcile yesterday's bank statement in the background (one bank statement"
        " for the installation: the sandbox bank keeps one per process, so leave it off there).",
    )
    sandbox_bank_delay_s: float = Field(default=0.05, ge=0, le=60)
    timezone: str = Field(
        default="Asia/Shanghai", description="Merchants' local time for days and hours in reports."
    )
    demo: bool = Field(default=False, description="Demo mode: one-click sign-in pages.")
    allow_private_webhooks: bool = Field(
        default=False,
        description="Deliver webhooks to loopback and private addresses (demo and tests only).",
    )
    paycode_merchant_failures_max: int = Field(
        default=20, ge=1, le=10_000, description="Invalid payment codes per merchant per minute."
    )
    sign_in_address_failures_max: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Wrong passwords one address may send in 15 minutes, whatever logins.",
    )
    dispute_answer_s: int = Field(
        default=3 * 86_400,
        ge=1,
        le=90 * 86_400,
        description="How long a merchant has to answer a dispute before support decides.",
    )
    sandbox_messages_visible: bool = Field(
        default=False,
        description="Show the sandbox messenger's codes at GET /v1/sandbox/messages (on in demo).",
    )
    ops_session_s: int = Field(
        default=8 * 3600, ge=60, le=7 * 86400, description="How long an operator stays signed in."
    )
    ops_key_file: Path | None = Field(
        default=None,
        description="The key sealing operators' TOTP secrets (default: data_dir/ops.key).",
    )
    audit_head_file: Path | None = Field(
        default=None,
        description="Where the audit log's head is copied outside the database (default:"
        " data_dir/audit-head.log).",
    )
    kyc_key_file: Path | None = Field(
        default=None,
        description="Key file for merchants' owner ID numbers (AES-256-GCM); never in the"
        " database. Empty means data_dir/kyc.key, created with mode 0600 on first use.",
    )
    pin_key_file: Path | None = Field(
        default=None,
        description="Keys checking payment and manager PINs (HMAC-SHA256); never in the database."
        " Empty means data_dir/pin.key, created with mode 0600 on first use; every process of"
        " one database must read the same file.",
    )
    kyc_pending_daily_limit: int = Field(
        default=200_000,
        ge=0,
        le=10**12,
        description="What a merchant may take per local day before its details are approved.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: warnings and errors for people, no line per request; json: every"
        " record as a JSON line, and one line per request (see docs/operations.md).",
    )
    metrics_token: str = Field(
        default="",
        description="If set, GET /metrics asks for Authorization: Bearer <this token>.",
    )

    @field_validator("database_url", "database_direct_url", "database_replica_url")
    @classmethod
    def _known_scheme(cls, value: str, info: ValidationInfo) -> str:
        name = f"SAOMA_{(info.field_name or 'database_url').upper()}"
        if info.field_name == "database_replica_url":
            if value and not value.startswith("postgres"):
                raise ValueError(
                    f"{name} must start with postgresql:// (a standby of the PostgreSQL"
                    f" primary; got {value.split(':', 1)[0]!r})"
                )
        elif value and not value.startswith(("sqlite", "postgres")):
            raise ValueError(
                f"{name} must start with sqlite:// or postgresql:// "
                f"(got {value.split(':', 1)[0]!r})"
            )
        return value

    @model_validator(mode="after")
    def _standby_of_postgres(self) -> Settings:
        if self.database_replica_url and not self.database_url.startswith("postgres"):
            raise ValueError(
                "SAOMA_DATABASE_REPLICA_URL needs a PostgreSQL SAOMA_DATABASE_URL: a standby"
                " follows a PostgreSQL primary (the embedded SQLite database has none)"
            )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"SAOMA_TIMEZONE must be an IANA zone like Asia/Shanghai (got {value!r})"
            ) from exc
        return value

    def resolved_kyc_key_file(self) -> Path:
        return self.kyc_key_file or self.data_dir / "kyc.key"

    def resolved_pin_key_file(self) -> Path:
        return self.pin_key_file or self.data_dir / "pin.key"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'saoma.db'}"

    def resolved_direct_url(self) -> str:
        """The direct PostgreSQL URL when the main one goes through a pooler, else ''."""
        return normalise_database_url(self.database_direct_url) if self.database_direct_url else ""

    def resolved_replica_url(self) -> str:
        """The standby's URL for reading work, else ''."""
        url = self.database_replica_url
        return normalise_database_url(url) if url else ""


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator chose."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
