"""Settings, read from the environment (and a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SECRET = "dev-insecure-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = f"sqlite:///{ROOT / 'var' / 'puhuitong.db'}"
    # Streaming replicas of database_url for lag-tolerant reads (app.core.db.ReadSessionDep): a JSON list or
    # comma-separated URLs. Empty: every read uses the primary, exactly as before.
    database_read_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # A replica further behind than this is skipped (its reads go to the primary).
    database_read_max_lag_seconds: float = 5.0
    # Read-your-writes: after a caller's write, that caller's reads stay on the primary this long. Keep it at
    # least max_lag + check interval.
    database_read_pin_seconds: float = 10.0
    # How long one health check of the replicas (reachable, in recovery, lag) is trusted.
    database_read_check_seconds: float = 1.0
    # > 0: a replica read first waits up to this long for the replica to replay everything the primary had
    # committed when the read began (else the primary serves it). Strict, for tests; 0 in production.
    database_read_wait_seconds: float = 0.0
    redis_url: str = "memory://"
    secret_key: str = DEFAULT_SECRET
    # Key for personal data at rest; derived from secret_key when empty.
    pii_key: str = ""
    # Key of the audit chain's HMAC links and checkpoints; never stored in the database. Derived from secret_key
    # when empty (dev, test); APP_ENV=prod requires it to be set on its own.
    audit_key: str = ""
    # Signed checkpoints of the audit chain (JSON lines, appended by the sealer): ship this file elsewhere.
    audit_checkpoint_path: str = str(ROOT / "var" / "audit-checkpoints.jsonl")
    sms_backend: Literal["console", "file", "aliyun"] = "console"
    sms_outbox_path: str = str(ROOT / "var" / "sms-outbox.jsonl")
    sms_signature: str = "普惠通"
    sms_provider_endpoint: str = ""
    sms_provider_access_key_id: str = ""
    sms_provider_access_key_secret: str = ""
    sms_provider_template: str = ""
    sms_provider_sdk_app_id: str = ""
    media_root: str = str(ROOT / "var" / "media")
    media_url_prefix: str = "/media"
    worker_in_process: bool | None = None
    webhook_allow_private_urls: bool = False
    webhook_timeout_seconds: float = 5.0
    cors_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    log_level: str = "INFO"
    # Connection pool per process (PostgreSQL). Size it so that workers x (pool + overflow) stays well under the
    # server's max_connections; a request that cannot get a connection within the timeout is answered 503
    # service_unavailable with Retry-After instead of queueing without bound.
    db_pool_size: int = 10
    db_max_overflow: int = 5
    db_pool_timeout_seconds: float = 5.0
    db_pool_recycle_seconds: int = 1800
    db_pool_pre_ping: bool = False
    # false behind PgBouncer in transaction mode (before 1.21's max_prepared_statements): no prepared statement
    # caches (asyncpg's statement_cache_size and SQLAlchemy's prepared_statement_cache_size set to 0).
    db_prepared_statements: bool = True
    redis_max_connections: int = 100
    redis_pool_timeout_seconds: float = 5.0

    access_token_ttl_seconds: int = 900
    refresh_idle_ttl_seconds: int = 30 * 86400
    refresh_absolute_ttl_seconds: int = 90 * 86400
    refresh_grace_seconds: int = 10
    step_up_ttl_seconds: int = 300

    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    sms_phone_interval_seconds: int = 60
    sms_phone_per_hour: int = 5
    sms_phone_per_day: int = 10
    sms_ip_per_hour: int = 100
    sms_global_per_hour: int = 10000

    login_failures_per_window: int = 10
    login_failure_window_seconds: int = 900
    link_attempts_per_day: int = 5
    staff_sms_second_factor: bool = False

    drawdowns_per_day: int = 20
    demands_per_day: int = 20

    # argon2id parameters (ASVS / OWASP); tests lower them through the environment.
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    argon2_parallelism: int = 4

    @field_validator("database_read_urls", mode="before")
    @classmethod
    def _split_urls(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                import json

                return json.loads(v)
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @model_validator(mode="after")
    def _refuse_unsafe_prod(self) -> Settings:
        if self.app_env == "prod":
            problems = []
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                problems.append("SECRET_KEY must be set to a random value of 32+ characters")
            if len(self.audit_key) < 32 or self.audit_key == self.secret_key:
                problems.append("AUDIT_KEY must be set to its own random value of 32+ characters")
            if self.database_url.startswith("sqlite"):
                problems.append("DATABASE_URL must point at PostgreSQL")
            if self.redis_url.startswith("memory"):
                problems.append("REDIS_URL must point at a Redis server")
            if problems:
                raise ValueError("APP_ENV=prod refuses to start: " + "; ".join(problems))
        return self

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite") or self.redis_url.startswith("memory")

    @property
    def run_worker_in_process(self) -> bool:
        if self.worker_in_process is None:
            return self.embedded
        return self.worker_in_process


@lru_cache
def get_settings() -> Settings:
    return Settings()
