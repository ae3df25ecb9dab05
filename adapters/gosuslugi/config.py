"""Settings of the SMEV 3 adapter: a pydantic model the gateway's one settings object nests.

The defaults match the SMEV emulator on loopback (``emulators.smev3.DEFAULT_PORT``), so a
local run needs only the key files; as environment variables they are
``GATEWAY_SMEV__URL``, ``GATEWAY_SMEV__SCHEMA_VERSION``… once the lead nests this model
as ``smev``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from adapters.gosuslugi.envelope import MessageTypeSelector, version

EMULATOR_PORT = 7500


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
    smev_certificate_file: Path | None = Field(default=None, description="Закрепить сертификат ЭП-СМЭВ (необязательно)")
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

    def endpoint(self) -> str:
        if self.url:
            return self.url
        return f"http://127.0.0.1:{EMULATOR_PORT}{version(self.schema_version).default_path}"
