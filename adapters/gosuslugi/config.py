"""Settings of the SMEV 3 adapter: a pydantic model the gateway's one settings object nests as ``smev``.

The defaults match the SMEV emulator on loopback (``emulators.smev3.DEFAULT_PORT``), so a
local run needs only the key files; as environment variables they are
``GATEWAY_SMEV__URL``, ``GATEWAY_SMEV__SCHEMA_VERSION``…

Who may sign what reaches us is pinned, not only chained to a trusted CA (any participant
holds a certificate of that CA): SMEV's own signature by ``smev_certificate_sha256`` /
``smev_certificate_file``, the sender's by the pins of the information system the routing
names (``epgu``: ``GATEWAY_SMEV__EPGU__MNEMONICS``, ``…__CERTIFICATE_SHA256``,
``…__CERTIFICATE_FILE``).  Lists and PEM bundles hold several certificates so that a key
rotation can overlap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from adapters.config import StartupProblem, is_emulator_address
from adapters.gosuslugi.envelope import MessageTypeSelector, version
from adapters.gosuslugi.pins import Pins, fingerprints_of_files, normalize_fingerprint

EMULATOR_PORT = 7500
#: The mnemonic the SMEV emulator gives EPGU (``emulators.smev3.epgu.MNEMONIC``; written twice on purpose).
EPGU_EMULATOR_MNEMONIC = "EPGU_EMU"


def _fingerprints(values: list[str]) -> list[str]:
    return [normalize_fingerprint(v) for v in values]


class SenderConfig(BaseModel):
    """An information system that sends us requests: its mnemonics in SMEV's routing and its ЭП-ОВ pins."""

    mnemonics: list[str] = Field(default_factory=list, description="Мнемоники ИС отправителя в СМЭВ (MessageMetadata/Sender)")
    certificate_sha256: list[str] = Field(
        default_factory=list, description="SHA-256 сертификатов ЭП-ОВ отправителя; несколько — на время смены ключа"
    )
    certificate_file: Path | None = Field(
        default=None, description="Сертификаты ЭП-ОВ отправителя (PEM, можно несколько в одном файле)"
    )

    _normalize = field_validator("certificate_sha256")(_fingerprints)

    def configured_pins(self) -> Pins:
        """The pins these settings name (reads ``certificate_file``); OSError/ValueError as raised."""
        files = [self.certificate_file] if self.certificate_file else []
        return Pins(frozenset(self.certificate_sha256) | frozenset(fingerprints_of_files(files)))


def _default_epgu() -> SenderConfig:
    return SenderConfig(mnemonics=[EPGU_EMULATOR_MNEMONIC])


class SelectorConfig(BaseModel):
    """One queue to poll: a business namespace and root element (empty = any type)."""

    namespace_uri: str | None = None
    root_element: str | None = None
    node_id: str | None = None

    def selector(self) -> MessageTypeSelector:
        return MessageTypeSelector(self.namespace_uri, self.root_element, self.node_id)


def _default_selectors() -> list[SelectorConfig]:
    from adapters.gosuslugi.mapping import NAMESPACE, ROOT_ELEMENT

    return [SelectorConfig(namespace_uri=NAMESPACE, root_element=ROOT_ELEMENT)]


class SmevConfig(BaseModel):
    url: str | None = Field(
        default=None,
        description="Адрес сервиса СМЭВ; по умолчанию эмулятор на 127.0.0.1 с путём версии (transport_1_0_1/2)",
    )
    schema_version: Literal["1.1", "1.3"] = "1.3"
    mnemonic: str = Field(default="SOCORD01", max_length=50, description="Мнемоника нашей ИС в СМЭВ")
    key_file: Path | None = Field(default=None, description="Ключ ЭП-ОВ: PKCS#8 (PEM/DER) или PKCS#12")
    certificate_file: Path | None = None
    key_password: SecretStr | None = None
    trusted_ca_files: list[Path] = Field(default_factory=list, description="Корневые сертификаты для ЭП-СМЭВ и ЭП-ОВ отправителей")
    crl_files: list[Path] = Field(default_factory=list)
    smev_certificate_file: Path | None = Field(
        default=None, description="Закреплённые сертификаты ЭП-СМЭВ (PEM, можно несколько в одном файле — на время смены ключа)"
    )
    smev_certificate_sha256: list[str] = Field(
        default_factory=list, description="Закреплённые сертификаты ЭП-СМЭВ: SHA-256 (отпечатки), несколько — на время смены ключа"
    )
    epgu: SenderConfig = Field(
        default_factory=_default_epgu, description="ИС ЕПГУ (ЭП-ОВ), от которой принимаются заявления: мнемоники и закрепление"
    )
    connect_timeout_s: float = 5.0
    timeout_s: float = 30.0
    poll_interval_s: float = Field(default=1.0, description="Пауза после пустого ответа; растёт до poll_idle_max_s")
    poll_idle_max_s: float = 15.0
    poll_error_backoff_max_s: float = 60.0
    selectors: list[SelectorConfig] = Field(default_factory=_default_selectors)
    node_id: str | None = None
    mtom_threshold_bytes: int = Field(default=512 * 1024, description="Больше — через файловое хранилище (RefAttachmentHeader)")
    file_store_url: str | None = Field(default=None, description="Файловое хранилище СМЭВ (эмулятор: .../_emulator/fs)")
    require_sender_signature: bool = Field(default=True, description="Отклонять запросы без проверенной ЭП-ОВ отправителя")

    _normalize = field_validator("smev_certificate_sha256")(_fingerprints)

    def endpoint(self) -> str:
        if self.url:
            return self.url
        return f"http://127.0.0.1:{EMULATOR_PORT}{version(self.schema_version).default_path}"

    def configured_smev_pins(self) -> Pins:
        """The ЭП-СМЭВ pins these settings name (reads ``smev_certificate_file``); OSError/ValueError as raised."""
        files = [self.smev_certificate_file] if self.smev_certificate_file else []
        return Pins(frozenset(self.smev_certificate_sha256) | frozenset(fingerprints_of_files(files)))

    def senders(self) -> dict[str, SenderConfig]:
        """The information systems whose requests we accept, by system name (setting ``GATEWAY_SMEV__<NAME>__…``)."""
        return {"epgu": self.epgu}

    def emulator_defaults(self) -> list[StartupProblem]:
        """Settings still at the SMEV emulator's defaults (pure: the model only)."""
        problems: list[StartupProblem] = []
        if is_emulator_address(self.endpoint(), "smev"):
            problems.append(StartupProblem("emulator_default_address", "GATEWAY_SMEV__URL",
                                           f"СМЭВ: адрес по умолчанию указывает на эмулятор ({self.endpoint()})"))  # fmt: skip
        for name, sender in self.senders().items():
            if EPGU_EMULATOR_MNEMONIC in sender.mnemonics:
                problems.append(StartupProblem("emulator_default_mnemonic", f"GATEWAY_SMEV__{name.upper()}__MNEMONICS",
                                               f"СМЭВ: мнемоника отправителя {name} — мнемоника эмулятора ({EPGU_EMULATOR_MNEMONIC})"))  # fmt: skip
        return problems
