"""Carnet settings, read once from the environment (and an optional `.env` file).

Every setting is an environment variable of the same name in upper case. A bad value stops
start-up with a `SettingsError` naming the variable, so a typo never becomes a silent default.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

VAR_DIR = Path("var")
DEV_MASTER_KEY_FILE = VAR_DIR / "master.key"
# Where `carnet dev` runs the web app, the one proxy a dev API trusts by default.
DEV_TRUSTED_PROXIES = "127.0.0.1"
# The web app of `carnet dev` (its default --web-port), and its OAuth consent page
# (frontend/carnet_web/routes.py AUTHORIZATION_ROUTE: tests/frontend/test_apps_state.py).
DEV_WEB_APP_URL = "http://127.0.0.1:3000"
CONSENT_PAGE_PATH = "/autorisation"


# Never echoed back in error messages.
SECRET_SETTINGS = {
    "CARNET_MASTER_KEY", "CARNET_PREVIOUS_MASTER_KEYS", "SMTP_PASSWORD", "DATABASE_URL",
    "REDIS_URL", "S3_SECRET_ACCESS_KEY", "PSC_CLIENT_SECRET",
}


class SettingsError(RuntimeError):
    """A setting is missing or malformed; the message names the environment variable."""


class Environment(StrEnum):
    DEV = "dev"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    carnet_env: Environment = Environment.DEV
    database_url: str = f"sqlite://{VAR_DIR}/carnet.sqlite3"
    # None means: an in-process broker and key-value store (single process only).
    # redis+cluster://host:port[,host:port...] (rediss+cluster:// for TLS): a Redis Cluster.
    redis_url: str | None = None
    # Namespace of every Redis key and channel (several deployments can share one Redis).
    # No braces: keys carry a Redis Cluster hash tag (`{...}`) right after the prefix.
    redis_key_prefix: str = Field(default="carnet:", min_length=1, max_length=64)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Carnet <no-reply@carnet.localhost>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    sms_webhook_url: str | None = None
    # 32 bytes, base64 (urlsafe or standard). Dev generates one under ./var/ on first start.
    carnet_master_key: str | None = None
    # Comma-separated previous master keys, still accepted to unwrap data keys during a
    # rotation (`carnet keys rotate`); new data keys are always wrapped with CARNET_MASTER_KEY.
    carnet_previous_master_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where encrypted document blobs go: "local" (BLOB_DIR) or "s3" (S3_* settings).
    blob_store: str = "local"
    blob_dir: str = str(VAR_DIR / "blobs")
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)
    # Soft-deleted documents are purged (blob and row) after this many days.
    document_retention_days: int = Field(default=30, ge=0, le=3650)
    otp_ttl_seconds: int = Field(default=900, ge=1, le=3600)
    session_idle_seconds: int = Field(default=1800, ge=60, le=86_400)
    session_absolute_seconds: int = Field(default=43_200, ge=300, le=7 * 86_400)
    # Password checks per account (known or not) per day before progressive delays begin:
    # then one check per "not before" slot, LOGIN_DELAY_BASE_SECONDS doubling up to
    # LOGIN_LOCK_SECONDS, except for addresses that have not failed on the account (at most
    # LOGIN_FRESH_ADDRESS_CHECKS_PER_DAY of those a day). See backend/identity/services.py.
    login_max_failures: int = Field(default=20, ge=3, le=10_000)
    login_lock_seconds: int = Field(default=900, ge=1, le=86_400)
    login_delay_base_seconds: float = Field(default=1.0, gt=0, le=3600)
    login_fresh_address_checks_per_day: int = Field(default=30, ge=0, le=10_000)
    # Failed attempts (password or code) per account AND client address per LOGIN_LOCK_SECONDS;
    # beyond, that address alone is refused for that account.
    login_max_failures_per_address: int = Field(default=10, ge=1, le=10_000)
    # Login and code attempts per client address per minute.
    login_rate_per_address: int = Field(default=30, ge=1, le=100_000)
    # Codes sent per account per quarter hour (each costs an SMS or an email).
    codes_per_account_window: int = Field(default=5, ge=1, le=10_000)
    # Failed INS identity matches (deposits, conversations, profile additions) per
    # professional per hour; past it, identity matching is refused until the hour ends.
    identity_match_failures_per_professional_per_hour: int = Field(default=20, ge=1,
                                                                   le=100_000)
    # A care relationship without any access by the professional for this many days is no
    # longer a ground to read the record (backend/access/policy.py).
    care_relationship_expiry_days: int = Field(default=3 * 365, ge=1, le=36_500)
    # A closed space (backend/closure) is kept read-only, for nobody, this many years, then
    # purged; deletion on request happens within CLOSED_DELETION_DAYS (the purge job must run
    # at least daily).
    closed_archive_years: int = Field(default=10, ge=1, le=100)
    closed_deletion_days: int = Field(default=90, ge=0, le=365)
    # An emergency (break-glass) access stays open this many hours.
    emergency_access_hours: int = Field(default=24, ge=1, le=24 * 7)
    # Contact-change codes (sent to a new, unverified address) per account per day, and per
    # destination per day whatever the account.
    contact_codes_per_account_day: int = Field(default=10, ge=1, le=10_000)
    contact_codes_per_destination_day: int = Field(default=3, ge=1, le=10_000)
    # Live connections re-check their session this often (a revoked session's sockets close).
    ws_session_check_seconds: float = Field(default=5.0, gt=0, le=300)
    # A participant who has not read a message after this delay gets one email/SMS.
    message_notify_delay_seconds: int = Field(default=900, ge=1, le=7 * 86_400)
    message_notify_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Agenda (backend/agenda/reminders.py): a reminder this many hours before an appointment;
    # a notice claimed by a sender that died is claimed again after the lease; a notice whose
    # delivery keeps failing is given up after this many attempts; senders claim this many at
    # a time. They run as periodic jobs (backend/jobs/) every MESSAGE_NOTIFY_INTERVAL_SECONDS.
    agenda_reminder_hours_before: int = Field(default=24, ge=1, le=14 * 24)
    agenda_notice_lease_seconds: int = Field(default=300, ge=10, le=86_400)
    agenda_notice_max_attempts: int = Field(default=5, ge=1, le=100)
    agenda_notice_batch_size: int = Field(default=100, ge=1, le=10_000)
    # The job queue (backend/jobs/, `carnet worker`; PostgreSQL only, see docs/jobs.md): jobs
    # run at once per worker; a failed job is tried again after JOBS_RETRY_BACKOFF_SECONDS ** n
    # seconds (n = 1, 2, ...), JOBS_MAX_ATTEMPTS times in all; a worker writes its heartbeat
    # every JOBS_HEARTBEAT_SECONDS, and the jobs of a worker silent for JOBS_STALLED_SECONDS
    # (killed, its machine gone) are run again; workers poll for jobs every
    # JOBS_POLL_SECONDS besides being woken by LISTEN/NOTIFY.
    jobs_concurrency: int = Field(default=4, ge=1, le=64)
    jobs_max_attempts: int = Field(default=6, ge=1, le=100)
    jobs_retry_backoff_seconds: int = Field(default=3, ge=2, le=600)
    jobs_heartbeat_seconds: float = Field(default=10.0, gt=0, le=600)
    jobs_stalled_seconds: float = Field(default=60.0, gt=0, le=86_400)
    jobs_poll_seconds: float = Field(default=5.0, gt=0, le=600)
    # Finished jobs stay in the queue's tables this long (diagnostics), failed ones longer;
    # then the hourly `jobs.remove_old` job deletes them.
    jobs_keep_hours: int = Field(default=7 * 24, ge=1, le=24 * 3650)
    jobs_keep_failed_hours: int = Field(default=30 * 24, ge=1, le=24 * 3650)
    # Calendar feeds (backend/agenda/feeds.py, http.py): the public base URL of the API in the
    # feed URL given to patients (unset: the request's own); the feed holds the appointments
    # from this many days back, and all upcoming ones.
    agenda_feed_base_url: str | None = None
    agenda_feed_past_days: int = Field(default=90, ge=0, le=3650)
    # Agenda (issue 13): a patient may cancel or move an appointment with a professional
    # online until this many hours before it starts (then: call the practice).
    agenda_cancel_deadline_hours: int = Field(default=24, ge=0, le=24 * 30)
    # Most slots one publishSlots call may create (a recurrence over a long range).
    agenda_max_slots_per_publish: int = Field(default=1000, ge=1, le=20_000)
    # OAuth 2 authorization server for referenced apps (backend/oauth): code, access and
    # refresh token lifetimes; the issuer (unset: the request's own base URL) and the web app's
    # consent page (RFC 8414 authorization_endpoint; unset: {issuer}/oauth/authorize, which
    # sends the browser on to `consent_page_url()`: see there).
    oauth_code_seconds: int = Field(default=60, ge=10, le=600)
    oauth_access_token_seconds: int = Field(default=600, ge=60, le=86_400)
    oauth_refresh_token_seconds: int = Field(default=30 * 86_400, ge=3600, le=365 * 86_400)
    oauth_issuer: str | None = None
    oauth_authorization_page_url: str | None = None
    # Requests one catalogue app may make per minute with its access tokens, all patients
    # together (429 with Retry-After beyond).
    app_rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    # Opt-out campaigns (backend/onboarding): a notified person may refuse (or activate early)
    # until import time + this many days, with the provisional code of their notice; the public
    # page the notices name; notice senders' lease and attempts (as the agenda's notices).
    opt_out_window_days: int = Field(default=42, ge=1, le=365)
    campaign_page_url: str = "http://localhost:3000/activation"
    campaign_notice_lease_seconds: int = Field(default=300, ge=10, le=86_400)
    campaign_notice_max_attempts: int = Field(default=5, ge=1, le=100)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # GraphiQL, introspection and "Did you mean" suggestions: on in dev, off in production,
    # unless set explicitly (None means: the environment's default).
    graphiql: bool | None = None
    introspection: bool | None = None
    graphql_suggestions: bool | None = None
    # GraphQL abuse limits, applied before execution.
    graphql_max_depth: int = Field(default=12, ge=2, le=50)
    graphql_max_aliases: int = Field(default=15, ge=1, le=500)
    graphql_max_tokens: int = Field(default=2000, ge=50, le=100_000)
    # Query text larger than this is refused before parsing (values belong in variables).
    graphql_max_query_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Memory (estimated) of the per-worker cache of parsed and validated documents.
    graphql_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024, le=1024**3)
    # Per worker: whole answers of the web app's known operations for patients, in memory
    # (backend/response_cache.py); 0 turns the cache off. Entries live at most the TTL.
    response_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=1024**3)
    response_cache_ttl_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Wall-clock budget of one query or mutation (parsing, validation and execution).
    graphql_time_budget_seconds: float = Field(default=15.0, gt=0, le=600)
    db_pool_max_size: int = Field(default=5, ge=1, le=100)
    # Connections per process to Redis (commands; pub/sub has one more of its own). Requests
    # wait for a free one (a blocking pool) rather than fail.
    redis_pool_max_size: int = Field(default=100, ge=2, le=10_000)
    # gc.freeze() after start-up and higher collection thresholds (backend/runtime.py).
    gc_tuning: bool = True
    log_level: str = "INFO"
    # Proxies (addresses or networks, comma-separated, or *) whose X-Forwarded-For is trusted
    # for the client address: rate limits and the audit trail need the person's address,
    # not the web server's. Unset: 127.0.0.1 in dev (where the web app runs), nobody in
    # production; empty: nobody. See `trusted_proxies`.
    forwarded_allow_ips: str | None = None
    # Pro Santé Connect (OpenID Connect) login for professionals, on when PSC_ISSUER is set
    # (then PSC_CLIENT_ID, PSC_CLIENT_SECRET and PSC_POST_LOGIN_URL are required). See
    # backend/identity/psc.py.
    psc_issuer: str | None = None
    psc_client_id: str | None = None
    psc_client_secret: str | None = None
    # The callback registered at the provider; unset: derived from the login request (dev).
    psc_redirect_uri: str | None = None
    # Where the browser goes after a successful callback, with a one-time `ticket` parameter
    # that the web app exchanges (GraphQL `exchangeLoginTicket`) for a session.
    psc_post_login_url: str | None = None
    psc_acr: str = Field(default="eidas1", min_length=1, max_length=64)
    psc_scope: str = Field(default="openid scope_all", min_length=6, max_length=500)
    # How long a started login (state, nonce, PKCE verifier) waits for its callback.
    psc_state_ttl_seconds: int = Field(default=600, ge=30, le=3600)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_forwarded_allow_ips(cls, value: str | None) -> str | None:
        if value is None:
            return None
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    "expected IP addresses or networks separated by commas, or *"
                ) from None
        return ",".join(entries)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("carnet_previous_master_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            keys = [k.strip() for k in value.split(",") if k.strip()]
            for key in keys:
                decode_master_key(key)
            return keys
        return value

    @field_validator("blob_store")
    @classmethod
    def _check_blob_store(cls, value: str) -> str:
        if value not in ("local", "s3"):
            raise ValueError("expected local or s3")
        return value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("S3_BUCKET is required when BLOB_STORE=s3")
        return self

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("expected a sqlite://, postgres:// or postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if is_cluster_url(value):
            parse_cluster_url(value)
        elif not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss://, unix://, redis+cluster:// or "
                             "rediss+cluster:// URL")
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _check_redis_key_prefix(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("must not contain { or }: Carnet puts a Redis Cluster hash tag "
                             "({...}) right after the prefix, and a brace in the prefix would "
                             "become the tag and put every key in one slot")
        return value

    @field_validator("sms_webhook_url", "smtp_host", "psc_issuer", "psc_client_id",
                     "psc_client_secret", "psc_redirect_uri", "psc_post_login_url",
                     "agenda_feed_base_url", "oauth_authorization_page_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("psc_issuer", "psc_redirect_uri", "psc_post_login_url")
    @classmethod
    def _check_psc_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError("expected an http:// or https:// URL without a fragment")
        if info.field_name == "psc_issuer":
            if parts.query:
                raise ValueError("an issuer has no query string")
            # Compared with the discovery document's issuer, which may end with a slash.
            return value.rstrip("/")
        return value

    @field_validator("oauth_authorization_page_url")
    @classmethod
    def _check_consent_page_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        # GET /oauth/authorize appends the app's query string: the page has none of its own.
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment:
            raise ValueError("expected an http:// or https:// URL without query or fragment")
        return value

    def consent_page_url(self) -> str | None:
        """The web app's consent page, where GET /oauth/authorize sends the browser:
        OAUTH_AUTHORIZATION_PAGE_URL, else the web app's origin (the first of ALLOWED_ORIGINS,
        which a deployment sets to the web app's public address, as docker-compose.yml does)
        with the page's path, else in dev the address `carnet dev` serves the web app on.
        None in production with neither set."""
        if self.oauth_authorization_page_url:
            return self.oauth_authorization_page_url
        for origin in self.allowed_origins:
            if origin.startswith(("http://", "https://")) and urlsplit(origin).hostname:
                return origin.rstrip("/") + CONSENT_PAGE_PATH
        if not self.is_production:
            return DEV_WEB_APP_URL + CONSENT_PAGE_PATH
        return None

    @field_validator("agenda_feed_base_url")
    @classmethod
    def _check_feed_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
                or parts.fragment:
            raise ValueError("expected an http:// or https:// URL without query or fragment")
        return value.rstrip("/")

    @field_validator("campaign_page_url")
    @classmethod
    def _check_campaign_page_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
            raise ValueError("expected an http:// or https:// URL without a fragment")
        return value

    @model_validator(mode="after")
    def _psc_settings_go_together(self) -> Settings:
        if self.psc_issuer is None:
            return self
        missing = [name.upper() for name in ("psc_client_id", "psc_client_secret",
                                             "psc_post_login_url") if getattr(self, name) is None]
        if self.is_production and self.psc_redirect_uri is None:
            missing.append("PSC_REDIRECT_URI")
        if missing:
            raise ValueError(f"{', '.join(missing)} required when PSC_ISSUER is set")
        if self.is_production:
            for name in ("psc_issuer", "psc_redirect_uri", "psc_post_login_url"):
                if not str(getattr(self, name)).startswith("https://"):
                    raise ValueError(f"{name.upper()} must be an https:// URL in production")
        return self

    @field_validator("sms_webhook_url")
    @classmethod
    def _check_sms_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("carnet_master_key")
    @classmethod
    def _check_master_key(cls, value: str | None) -> str | None:
        if not value:
            return None
        decode_master_key(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.carnet_env is Environment.PRODUCTION and not self.carnet_master_key:
            raise ValueError("CARNET_MASTER_KEY is required when CARNET_ENV=production")
        return self

    @model_validator(mode="after")
    def _graphql_defaults(self) -> Settings:
        development = self.carnet_env is not Environment.PRODUCTION
        for name in ("graphiql", "introspection", "graphql_suggestions"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, development)
        return self

    @property
    def uses_postgres(self) -> bool:
        """PostgreSQL (the durable job queue, `carnet worker`) rather than SQLite."""
        return not self.database_url.startswith("sqlite://")

    @model_validator(mode="after")
    def _stalled_after_heartbeats(self) -> Settings:
        if self.jobs_stalled_seconds <= 2 * self.jobs_heartbeat_seconds:
            raise ValueError("JOBS_STALLED_SECONDS must be more than twice "
                             "JOBS_HEARTBEAT_SECONDS (a live but busy worker would look dead)")
        return self

    @property
    def is_production(self) -> bool:
        return self.carnet_env is Environment.PRODUCTION

    @property
    def psc_enabled(self) -> bool:
        return self.psc_issuer is not None

    @property
    def trusted_proxies(self) -> str:
        """Peers whose X-Forwarded-For is believed ("" = nobody's): FORWARDED_ALLOW_IPS, or by
        default the dev web app's address (127.0.0.1) in dev and nobody in production."""
        if self.forwarded_allow_ips is not None:
            return self.forwarded_allow_ips
        return "" if self.is_production else DEV_TRUSTED_PROXIES

    def master_key(self) -> bytes:
        """The 32-byte master key; in dev, generated once under ./var/ (with a warning)."""
        # Cached: every session check and code hash derives keys from it (hot path).
        if self.carnet_master_key:
            return _decoded_key(self.carnet_master_key)
        return _dev_master_key(str(DEV_MASTER_KEY_FILE.resolve()))


CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS


@dataclass(frozen=True)
class ClusterUrl:
    """A parsed `redis+cluster://[user:password@]host:port[,host:port...]` URL."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterUrl:
    """The startup nodes and credentials of a cluster URL; ValueError saying what is wrong
    (never echoing the URL: it may hold a password)."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError("expected a redis+cluster:// or rediss+cluster:// URL")
    if "?" in rest or "#" in rest:
        raise ValueError("a cluster URL takes no query string or fragment")
    userinfo, _, hosts = rest.rpartition("@")
    hosts, _, path = hosts.partition("/")
    if path not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0")
    username = password = None
    if userinfo:
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    nodes = []
    for entry in hosts.split(","):
        entry = entry.strip()
        if entry.startswith("["):  # [IPv6]:port
            host, _, port = entry[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
        if not host:
            raise ValueError("expected host:port[,host:port...] after the scheme")
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError("a cluster node's port must be a number from 1 to 65535")
        nodes.append((host, int(port) if port else 6379))
    return ClusterUrl(tuple(nodes), username, password, CLUSTER_SCHEMES[scheme.lower()])


def decode_master_key(value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("expected 32 bytes encoded in base64") from exc
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes encoded in base64, got {len(raw)} bytes")
    return raw


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=8)
def _decoded_key(value: str) -> bytes:
    return decode_master_key(value)


@lru_cache(maxsize=8)
def _dev_master_key(path: str) -> bytes:
    if not DEV_MASTER_KEY_FILE.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(DEV_MASTER_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_master_key())
        log.warning(
            "CARNET_MASTER_KEY is not set: generated a development master key in %s. "
            "Never use it in production.",
            DEV_MASTER_KEY_FILE,
        )
    return decode_master_key(DEV_MASTER_KEY_FILE.read_text().strip())


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "SETTINGS"
            message = err["msg"].removeprefix("Value error, ")
            if name == "SETTINGS":
                problems.append(message)
            elif name in SECRET_SETTINGS:
                problems.append(f"{name}: {message}")
            else:
                problems.append(f"{name}: {message} (got {err.get('input')!r})")
        raise SettingsError("Invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def setting_names() -> set[str]:
    """Every environment variable the code reads (used to check deployment files)."""
    return {name.upper() for name in Settings.model_fields}
