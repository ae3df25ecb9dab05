"""Per-system settings of the adapters: where each system is, how long to wait, how hard to push.

One model per system, all gathered in :class:`SystemsSettings`, which the gateway's one
settings object exposes as ``systems`` (``GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL=…``,
``GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BREAKER__FAILURE_THRESHOLD=…``).  The defaults point
at the emulators that ``gateway emulators`` starts on loopback, so ``gateway serve`` and
``gateway emulators`` work together with no configuration; :data:`DEFAULT_PORTS` is the
single list of those ports (the emulator runner receives it from the gateway's CLI).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_PORTS: dict[str, int] = {
    "smev": 7500,
    "electronic_budget": 8092,
    "budget_portal": 8093,
    "navigator": 8094,
    "eais": 8095,
}


def _local(system: str, path: str = "") -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[system]}{path}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitSettings(_Model):
    """Token bucket: ``per_second`` tokens a second, at most ``burst`` at once."""

    per_second: float = Field(default=20.0, gt=0)
    burst: int = Field(default=20, ge=1)
    max_wait_s: float = Field(
        default=2.0, ge=0, description="How long a call may wait for a token before it fails as transient."
    )


class BreakerSettings(_Model):
    """Circuit breaker: opens after ``failure_threshold`` transient failures in a row."""

    failure_threshold: int = Field(default=5, ge=1)
    recovery_s: float = Field(default=30.0, gt=0, description="Open for this long, then one probe (half-open).")


class SystemSettings(_Model):
    """What every system has: an address, timeouts, a rate limit and a breaker."""

    base_url: str
    connect_timeout_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0, description="Whole request, connect to last byte.")
    read_attempts: int = Field(
        default=2, ge=1, le=5, description="Attempts for idempotent reads (short in-process retry); pushes: 1."
    )
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    rate_limit: RateLimitSettings = RateLimitSettings()
    breaker: BreakerSettings = BreakerSettings()

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class ElectronicBudgetSettings(SystemSettings):
    """GIIS «Электронный бюджет»: the stand-in SOAP service for social-order packages."""

    base_url: str = _local("electronic_budget", "/eb/social-order/v1")
    wsdl: str | None = Field(default=None, description="WSDL file; default: the stand-in kept in the package.")
    sign_envelope: bool = Field(
        default=True, description="Sign PackageData with the submitting organisation's key when one is given."
    )


class BudgetPortalSettings(SystemSettings):
    """budget.gov.ru open-data registries (read side)."""

    base_url: str = _local("budget_portal")
    social_orders_registry: str = "socialorders"
    reports_registry: str = "socialorderreports"
    page_size: int = Field(default=100, ge=1, le=1000)


class NavigatorSettings(SystemSettings):
    """The regional Navigator of additional education (REST/JSON, token auth)."""

    base_url: str = _local("navigator")
    client_id: str = "gateway"
    client_secret: SecretStr = SecretStr("navigator-emulator-secret")
    page_size: int = Field(default=500, ge=1, le=5000)


class EaisSettings(SystemSettings):
    """EAIS DO: the federal collection of programmes, providers, certificates and coverage."""

    base_url: str = _local("eais")
    api_key: SecretStr = SecretStr("eais-emulator-key")
    datasource: str = Field(
        default="00000000-0000-4000-8000-000000000057",
        description="UUID of this data source (the region) in EAIS DO.",
    )


class SystemsSettings(_Model):
    electronic_budget: ElectronicBudgetSettings = ElectronicBudgetSettings()
    budget_portal: BudgetPortalSettings = BudgetPortalSettings()
    navigator: NavigatorSettings = NavigatorSettings()
    eais: EaisSettings = EaisSettings()

    def emulator_ports(self) -> dict[str, int]:
        """Ports the emulators should listen on so that these settings reach them."""
        return {
            "smev": DEFAULT_PORTS["smev"],
            "electronic_budget": self.electronic_budget.port,
            "budget_portal": self.budget_portal.port,
            "navigator": self.navigator.port,
            "eais": self.eais.port,
        }
