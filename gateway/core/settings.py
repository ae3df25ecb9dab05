"""The one settings object of the gateway.

Every tunable comes from a ``GATEWAY_*`` environment variable; the defaults give the
embedded single-machine mode (SQLite file under ``GATEWAY_DATA_DIR``, embedded queue,
emulators on loopback). Nothing else in the code reads the environment.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.config import SystemsSettings
from adapters.gosuslugi.config import SmevConfig

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"


class QueueSettings(BaseModel):
    """Transport tuning; mapped onto ``queues.TransportConfig`` by ``gateway.delivery.transport``."""

    model_config = ConfigDict(extra="forbid")

    prefix: str = "gateway"
    max_attempts: int = Field(default=10, ge=1, description="Handling attempts before a message is dead-lettered")
    base_delay_s: float = Field(default=2.0, gt=0)
    max_delay_s: float = Field(default=3600.0, gt=0)
    multiplier: float = Field(default=4.0, ge=1)
    max_attempts_per_system: dict[str, int] = Field(default_factory=dict)
    delivery_limit: int = Field(default=20, ge=1)
    partitions: int = Field(default=8, ge=1, description="RabbitMQ queues per system (per-document order across workers); change only with the queues drained")
    prefetch: int = Field(default=100, ge=1)
    confirm_window: int = Field(default=256, ge=1)
    lease_s: float = Field(default=60.0, gt=0)
    poll_interval_s: float = Field(default=0.2, gt=0)
    max_outbox_rows: int = Field(default=10_000, ge=1, description="Backpressure: 429 above this many unsent rows")
    max_outbox_age_s: float = Field(default=300.0, gt=0, description="Backpressure: 429 when the oldest unsent row is older")
    max_queue_depth: int = Field(default=50_000, ge=1)


class JournalSettings(BaseModel):
    """The journal's sealer: how soon entries join the hash chain, how often its head is signed."""

    model_config = ConfigDict(extra="forbid")

    seal_interval_s: float = Field(default=0.2, gt=0, le=1.0, description="Entries are chained within this delay")
    seal_batch: int = Field(default=5000, ge=1, description="Entries chained per sealing transaction at most")
    checkpoint_every_s: float = Field(default=60.0, gt=0, description="How often the chain head is signed")
    run_sealer: bool = Field(default=True, description="This process seals (serve and worker; one works at a time)")


class DatabaseSettings(BaseModel):
    """Transient database errors (deadlock, serialization failure, lost connection) are retried."""

    model_config = ConfigDict(extra="forbid")

    retry_attempts: int = Field(default=6, ge=1, description="Attempts of one write before answering 503")
    retry_base_s: float = Field(default=0.02, gt=0, description="First back-off; doubles, with full jitter")
    retry_max_s: float = Field(default=0.5, gt=0, description="Longest single back-off")
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After of the 503 when retries run out")
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL", description="SQLite PRAGMA synchronous: FULL makes each (group) commit durable"
    )
    group_commit_max_callers: int = Field(default=128, ge=1, description="SQLite: writers sharing one commit at most")
    group_commit_max_batch_s: float = Field(default=0.05, ge=0, description="SQLite: longest a batch stays open")
    pool_size: int = Field(default=20, ge=1, description="PostgreSQL: connections kept open per process")


class AgreementFlowSettings(BaseModel):
    """Agreements for signing: how often ``gateway serve`` reads the Navigator's change feed."""

    model_config = ConfigDict(extra="forbid")

    poll_interval_s: float = Field(default=5.0, ge=0, description="0 turns the background poller off")
    page_size: int = Field(default=100, ge=1, le=1000)
    lease_s: float = Field(default=60.0, gt=0, description="One poller per database across gateway processes")


class RegistrySyncSettings(BaseModel):
    """The recipients' register sync (gateway ⇄ Navigator ⇄ EAIS DO)."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(default=0.0, ge=0, description="Incremental sync of every municipality by gateway serve; 0 = off")
    page_size: int = Field(default=5000, ge=1, le=5000, description="Records per Navigator page (one page held at a time)")
    push_batch: int = Field(default=1000, ge=1, le=5000, description="Records per correction package")
    max_attempts: int = Field(default=8, ge=1, description="Transient failures in a row before a run gives up")
    retry_delay_s: float = Field(default=1.0, gt=0, description="First wait after a transient failure (doubles)")
    lease_s: float = Field(default=120.0, gt=0, description="One sync per municipality at a time")
    items_per_outcome: int = Field(default=1000, ge=0, description="Record numbers kept per outcome in a run's report")


class PublishingSettings(BaseModel):
    """The publication tracker of ``gateway serve`` (Electronic Budget status, budget.gov.ru confirmation)."""

    model_config = ConfigDict(extra="forbid")

    tracker: bool = Field(default=True, description="Run the tracker in gateway serve")
    poll_interval_s: float = Field(default=5.0, gt=0, description="Pause between passes over submitted documents")
    batch: int = Field(default=200, ge=1, le=10_000, description="Documents looked at per pass")


class BatchSettings(BaseModel):
    """Bulk submission and bulk actions (``POST /api/v1/documents/batch``, ``…/actions``)."""

    model_config = ConfigDict(extra="forbid")

    max_items: int = Field(default=1000, ge=1, description="Items per bulk request (413 batch_too_large above it)")
    concurrency: int = Field(default=32, ge=1, description="Items of one bulk request processed at the same time")
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1, description="Body limit of the bulk routes (413 above it); others keep max_body_bytes"
    )


class ConsoleSettings(BaseModel):
    """The operator's web console at ``/console/``: its session cookie."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        default=None, min_length=32,
        description="Key of the encrypted session cookie, shared by every gateway process; unset: a random key per process",
    )  # fmt: skip
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60, description="Session lifetime from sign-in")
    cookie_secure: bool = Field(default=True, description="Secure cookie (HTTPS, or loopback in a browser)")


class PoaSettings(BaseModel):
    """Machine-readable powers of attorney (МЧД) attached to signatures of employees."""

    model_config = ConfigDict(extra="forbid")

    powers_file: Path = Field(
        default=PACKAGE_DATA / "powers_of_attorney.yaml",
        description="Which МЧД powers (classifier codes) let a representative take each document action",
    )


class TokenSettings(BaseModel):
    """Bearer tokens: how long a new one lives, how often its last use is written down."""

    model_config = ConfigDict(extra="forbid")

    lifetime_days: int = Field(default=365, ge=1, le=3650, description="Lifetime of a token issued without --expires")
    last_used_resolution_s: float = Field(
        default=60.0, ge=0, description="A token's last use is written at most this often (a write per request costs)"
    )


class TrustSettings(BaseModel):
    """The Ministry's list of accredited CAs (``gateway trust import-tsl``): whose signature it must carry."""

    model_config = ConfigDict(extra="forbid")

    tsl_signer_cert: Path | None = Field(
        default=None,
        description="Certificate (PEM/DER) of the list's signer or of its issuer; set, an unsigned or badly signed list is refused",
    )


class MetricsSettings(BaseModel):
    """``GET /metrics`` (Prometheus text format) on the API port, and on ``gateway worker --metrics-port``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Serve /metrics (unauthenticated; turn off or firewall it)")
    cache_s: float = Field(default=5.0, ge=0, description="Counts read from the database are reused this long")


class ReadinessSettings(BaseModel):
    """``GET /readyz``: when the gateway says it is not ready (503)."""

    model_config = ConfigDict(extra="forbid")

    max_outbox_age_s: float = Field(default=600.0, gt=0, description="Not ready while the oldest unsent outbox row is older")
    breakers: bool = Field(default=True, description="Not ready while a system the pollers use has its circuit open")


class SigningSettings(BaseModel):
    """GOST signing: whether production may run on the slow pure-Python backend."""

    model_config = ConfigDict(extra="forbid")

    allow_slow_backend: bool = Field(
        default=False,
        description="Let the gateway talk to real systems with pure-Python GOST (about 1000 times slower than OpenSSL)",
    )


class KeysSettings(BaseModel):
    """Server-side keys held in a PKCS#11 token (registry entries with ``pkcs11:`` name keys in it)."""

    model_config = ConfigDict(extra="forbid")

    pkcs11_module: Path | None = Field(default=None, description="The token's PKCS#11 module (.so)")
    pkcs11_token_label: str | None = Field(default=None, description="Label of the token that holds the keys")
    pkcs11_pin_env: str | None = Field(default=None, description="Environment variable holding the token's user PIN")
    pkcs11_pin_file: Path | None = Field(default=None, description="File holding the token's user PIN")


class RevocationSettings(BaseModel):
    """Revocation of signers' certificates: CRLs from their distribution points, OCSP, and what to do without them."""

    model_config = ConfigDict(extra="forbid")

    policy: Literal["hard", "soft"] = Field(
        default="hard",
        description="Incoming signatures whose revocation status cannot be had: hard refuses them, soft accepts with a "
        "journaled warning",
    )
    fetch_timeout_s: float = Field(default=5.0, gt=0, le=120, description="One CRL or OCSP request at most")
    cache_dir: Path | None = Field(default=None, description="Fetched CRLs and OCSP answers; default data_dir/revocation")
    refresh_margin_s: float = Field(default=300.0, ge=0, description="Fetched again this long before their nextUpdate")
    ocsp: bool = Field(default=True, description="Ask the OCSP responders that certificates name")
    max_crl_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Largest CRL (or OCSP answer) taken")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where all embedded-mode state lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default is a SQLite file under data_dir.",
    )
    amqp_url: str | None = Field(default=None, description="RabbitMQ URL; unset means the embedded queue.")
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Request body limit (413 above it).")
    municipalities_dir: Path = Field(
        default=PACKAGE_DATA / "municipalities",
        description="Directory of municipality profile files, one YAML file per municipality.",
    )
    calendar_file: Path = Field(
        default=PACKAGE_DATA / "calendar" / "ru-production-calendar.yaml",
        description="The Russian production calendar (days off and working weekend days).",
    )
    calendars_dir: Path = Field(
        default=PACKAGE_DATA / "calendar",
        description="Regional calendars, <id>.yaml, each extending the federal one (id ru, calendar_file) "
        "with the region's own days off; a municipality profile's `calendar` names one.",
    )
    pki_dir: Path | None = Field(
        default=None,
        description="Trusted roots (ca.pem) and revocation list (ca.crl); default data_dir/pki.",
    )
    keys_file: Path | None = Field(
        default=None,
        description="Registry of server-side signing keys per organisation (YAML); default data_dir/keys.yaml.",
    )
    timezone: str = Field(
        default="Europe/Moscow", description="Zone in which document dates and deadlines are counted."
    )
    page_size_default: int = 50
    page_size_max: int = 500
    idempotency_ttl_hours: int = 24 * 7
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, with request id, document id and system"
    )
    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Prometheus metrics (GATEWAY_METRICS__ENABLED…)."
    )
    readiness: ReadinessSettings = Field(
        default_factory=ReadinessSettings, description="/readyz thresholds (GATEWAY_READINESS__MAX_OUTBOX_AGE_S…)."
    )
    queue: QueueSettings = Field(
        default_factory=lambda: QueueSettings(),
        description="Transport tuning (GATEWAY_QUEUE__MAX_ATTEMPTS…); the backend is chosen by GATEWAY_AMQP_URL.",
    )
    journal: JournalSettings = Field(
        default_factory=lambda: JournalSettings(), description="Journal sealing (GATEWAY_JOURNAL__SEAL_INTERVAL_S…)."
    )
    database: DatabaseSettings = Field(
        default_factory=lambda: DatabaseSettings(), description="Retries of transient database errors (GATEWAY_DATABASE__…)."
    )
    smev: SmevConfig = Field(default_factory=SmevConfig, description="SMEV 3 (Gosuslugi) client (GATEWAY_SMEV__URL…).")
    run_emulators: bool = Field(
        default=True,
        description="gateway serve also starts the state-system emulators on loopback (embedded demo mode).",
    )
    emulator_certificates: int = Field(
        default=5_000, ge=0,
        description="Certificates the Navigator emulator started by gateway serve holds (all municipalities together).",
    )  # fmt: skip
    systems: SystemsSettings = Field(
        default_factory=SystemsSettings,
        description="External systems: addresses, timeouts, rate limits, breakers (GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL…).",
    )
    agreements: AgreementFlowSettings = Field(
        default_factory=lambda: AgreementFlowSettings(),
        description="Agreements for signing: the Navigator change-feed poller (GATEWAY_AGREEMENTS__POLL_INTERVAL_S…).",
    )
    registry: RegistrySyncSettings = Field(
        default_factory=lambda: RegistrySyncSettings(),
        description="Recipients' register sync (GATEWAY_REGISTRY__PAGE_SIZE, GATEWAY_REGISTRY__INTERVAL_S…).",
    )
    publishing: PublishingSettings = Field(
        default_factory=PublishingSettings,
        description="Publication tracker (GATEWAY_PUBLISHING__POLL_INTERVAL_S…).",
    )
    batch: BatchSettings = Field(
        default_factory=BatchSettings,
        description="Bulk routes: items, concurrency, body limit (GATEWAY_BATCH__MAX_ITEMS, …__CONCURRENCY, …__MAX_BODY_BYTES).",
    )
    tokens: TokenSettings = Field(
        default_factory=TokenSettings,
        description="Bearer tokens: lifetime, last-use bookkeeping (GATEWAY_TOKENS__LIFETIME_DAYS…).",
    )
    signing: SigningSettings = Field(
        default_factory=SigningSettings,
        description="GOST signing backend checks (GATEWAY_SIGNING__ALLOW_SLOW_BACKEND).",
    )
    poa: PoaSettings = Field(
        default_factory=PoaSettings,
        description="Machine-readable powers of attorney: action → powers mapping (GATEWAY_POA__POWERS_FILE).",
    )
    trust: TrustSettings = Field(
        default_factory=TrustSettings,
        description="Trusted list of accredited CAs (GATEWAY_TRUST__TSL_SIGNER_CERT).",
    )
    keys: KeysSettings = Field(
        default_factory=KeysSettings,
        description="Keys in a PKCS#11 token (GATEWAY_KEYS__PKCS11_MODULE, …__PKCS11_TOKEN_LABEL, …__PKCS11_PIN_ENV).",
    )
    revocation: RevocationSettings = Field(
        default_factory=RevocationSettings,
        description="Revocation checks of signers' certificates (GATEWAY_REVOCATION__POLICY=hard|soft, …__OCSP, …__CACHE_DIR).",
    )
    console: ConsoleSettings = Field(
        default_factory=ConsoleSettings,
        description="Operator's web console: session cookie (GATEWAY_CONSOLE__SECRET, …__SESSION_MINUTES).",
    )

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.sqlite3').resolve()}"

    @property
    def effective_pki_dir(self) -> Path:
        return self.pki_dir or self.data_dir / "pki"

    @property
    def effective_keys_file(self) -> Path:
        return self.keys_file or self.data_dir / "keys.yaml"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, with explicit overrides (used by tests and the CLI)."""
    return Settings(**overrides)
