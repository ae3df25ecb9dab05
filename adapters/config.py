"""Per-system settings of the adapters: where each system is, how long to wait, how hard to push.

One model per system, all gathered in :class:`SystemsSettings`, which the gateway's one
settings object exposes as ``systems`` (``GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL=…``,
``GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BREAKER__FAILURE_THRESHOLD=…``).  The defaults point
at the emulators that ``gateway serve`` starts on loopback (embedded demo); :data:`DEFAULT_PORTS`
is the single list of those ports (the emulator runner receives it from the gateway's CLI).

Those defaults and the emulators' secrets must never reach a real deployment:
:func:`emulator_defaults` lists every one still in use, and the gateway refuses to start
with any of them when it runs no emulators itself, unless ``GATEWAY_SYSTEMS__EMULATED=true``
declares that the systems are emulators run apart (``gateway emulators``, docker compose, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_PORTS: dict[str, int] = {
    "smev": 7500,
    "electronic_budget": 8092,
    "budget_portal": 8093,
    "navigator": 8094,
    "eais": 8095,
}


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
NAVIGATOR_EMULATOR_SECRET = "navigator-emulator-secret"
EAIS_EMULATOR_KEY = "eais-emulator-key"


def _local(system: str, path: str = "") -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[system]}{path}"


def is_emulator_address(url: str, system: str) -> bool:
    """``url`` is where ``system``'s emulator listens by default (loopback, its default port)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return parts.hostname in LOOPBACK and port == DEFAULT_PORTS[system]


@dataclass(frozen=True)
class StartupProblem:
    """A setting that keeps the gateway from starting: stable ``code``, the variable to set, why (Russian)."""

    code: str
    setting: str
    detail: str

    def __str__(self) -> str:
        return f"{self.detail}: задайте {self.setting} ({self.code})"


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
    client_secret: SecretStr = SecretStr(NAVIGATOR_EMULATOR_SECRET)
    page_size: int = Field(default=500, ge=1, le=5000)


class EaisSettings(SystemSettings):
    """EAIS DO: the federal collection of programmes, providers, certificates and coverage."""

    base_url: str = _local("eais")
    api_key: SecretStr = SecretStr(EAIS_EMULATOR_KEY)
    datasource: str = Field(
        default="00000000-0000-4000-8000-000000000057",
        description="UUID of this data source (the region) in EAIS DO.",
    )


class SystemsSettings(_Model):
    electronic_budget: ElectronicBudgetSettings = ElectronicBudgetSettings()
    budget_portal: BudgetPortalSettings = BudgetPortalSettings()
    navigator: NavigatorSettings = NavigatorSettings()
    eais: EaisSettings = EaisSettings()
    emulated: bool = Field(
        default=False,
        description="The systems are emulators run apart (gateway emulators, docker compose, tests): their default "
        "addresses and secrets are allowed and the SMEV and EPGU pins are read from the SMEV emulator. "
        "Never set it against the real systems.",
    )

    def emulator_ports(self) -> dict[str, int]:
        """Ports the emulators should listen on so that these settings reach them."""
        return {
            "smev": DEFAULT_PORTS["smev"],
            "electronic_budget": self.electronic_budget.port,
            "budget_portal": self.budget_portal.port,
            "navigator": self.navigator.port,
            "eais": self.eais.port,
        }


#: The setting that says where each emulator's system is (``emulators.runner`` names).
EMULATOR_SETTINGS: dict[str, str] = {
    "smev": "GATEWAY_SMEV__URL",
    "electronic_budget": "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL",
    "budget_portal": "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL",
    "navigator": "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL",
    "eais": "GATEWAY_SYSTEMS__EAIS__BASE_URL",
}


def emulator_port_problem(name: str, host: str, port: int) -> StartupProblem:
    """An emulator's port taken by another process: the gateway would talk to whatever listens there."""
    return StartupProblem(
        "emulator_port_in_use", EMULATOR_SETTINGS.get(name, "GATEWAY_RUN_EMULATORS"),
        f"эмулятор {name} не запущен: порт {host}:{port} занят другим процессом, и шлюз работал бы с тем, кто его слушает; "
        "освободите порт или укажите другой адрес (если это `gateway emulators`, запустите шлюз с "
        "GATEWAY_RUN_EMULATORS=false и GATEWAY_SYSTEMS__EMULATED=true)",
    )  # fmt: skip


_ADDRESSES = (
    ("electronic_budget", "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL", "«Электронный бюджет»"),
    ("budget_portal", "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL", "budget.gov.ru"),
    ("navigator", "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL", "Навигатор"),
    ("eais", "GATEWAY_SYSTEMS__EAIS__BASE_URL", "ЕАИС ДО"),
)


def emulator_defaults(systems: SystemsSettings) -> list[StartupProblem]:
    """Every address and secret of ``systems`` still at its emulator's default (pure: settings only)."""
    problems = [
        StartupProblem("emulator_default_address", setting,
                       f"{title}: адрес по умолчанию указывает на эмулятор ({getattr(systems, key).base_url})")
        for key, setting, title in _ADDRESSES
        if is_emulator_address(getattr(systems, key).base_url, key)
    ]  # fmt: skip
    if systems.navigator.client_secret.get_secret_value() == NAVIGATOR_EMULATOR_SECRET:
        problems.append(StartupProblem("emulator_default_secret", "GATEWAY_SYSTEMS__NAVIGATOR__CLIENT_SECRET",
                                       "Навигатор: секрет клиента — общеизвестный секрет эмулятора"))  # fmt: skip
    if systems.eais.api_key.get_secret_value() == EAIS_EMULATOR_KEY:
        problems.append(StartupProblem("emulator_default_secret", "GATEWAY_SYSTEMS__EAIS__API_KEY",
                                       "ЕАИС ДО: ключ API — общеизвестный ключ эмулятора"))  # fmt: skip
    return problems
