"""docker-compose.yml and the Dockerfile agree with the CLI and settings the code really has.

No Docker engine runs here, so the file is checked statically: every gateway service's
command parses with the real ``gateway`` argument parser, every ``GATEWAY_*`` variable
names a real settings field (nested ones included) and the settings load from them,
every service has a health check or a one-shot role, volumes are named and declared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from gateway.app.cli import _build_parser
from gateway.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
GATEWAY_SERVICES = {n: s for n, s in SERVICES.items() if s.get("build")}


def _field_exists(model: type[BaseModel], path: list[str]) -> bool:
    name, rest = path[0], path[1:]
    field = model.model_fields.get(name)
    if field is None:
        return False
    if not rest:
        return True
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _field_exists(annotation, rest)
    return False


def test_the_stack_has_what_the_issue_names() -> None:
    commands = [s.get("command", []) for s in GATEWAY_SERVICES.values()]
    assert {"rabbitmq", "postgres"} <= set(SERVICES)
    assert "management" in SERVICES["rabbitmq"]["image"]
    assert sum(1 for c in commands if c[:2] == ["gateway", "worker"]) == 2
    assert any(c[:2] == ["gateway", "serve"] for c in commands)
    assert any(c[:2] == ["gateway", "emulators"] for c in commands)


@pytest.mark.parametrize("name", sorted(GATEWAY_SERVICES))
def test_commands_parse_with_the_real_cli(name: str) -> None:
    command = GATEWAY_SERVICES[name]["command"]
    assert command[0] == "gateway"
    args = _build_parser().parse_args(command[1:])
    assert callable(args.func)


@pytest.mark.parametrize("name", sorted(GATEWAY_SERVICES))
def test_environment_names_real_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = GATEWAY_SERVICES[name]["environment"]
    for key, value in env.items():
        assert key.startswith("GATEWAY_"), key
        path = key[len("GATEWAY_") :].lower().split("__")
        assert _field_exists(Settings, path), f"{key} is not a settings field"
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert settings.amqp_url and settings.database_url and settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.run_emulators is False
    assert settings.systems.navigator.base_url.startswith("http://emulators:")


def test_health_checks_dependencies_and_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared, (name, volume)
        if service.get("restart") != "no" and not name.startswith("worker"):
            assert "healthcheck" in service, name
        for dep in service.get("depends_on", {}):
            assert dep in SERVICES, (name, dep)


def test_dockerfile_installs_the_gost_engine_and_the_packages() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "libengine-gost-openssl" in text
    for package in ("gateway", "adapters", "signing", "queues", "emulators"):
        assert f"COPY {package} ./{package}" in text
