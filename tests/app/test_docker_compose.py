"""docker-compose.yml and the Dockerfile agree with the CLI and settings the code really has.

No Docker engine runs here, so the file is checked statically: every gateway service's
command parses with the real ``gateway`` argument parser, every ``GATEWAY_*`` variable
names a real settings field (nested ones included) and the settings load from them,
every service has a health check or a one-shot role, volumes are named and declared.
The file is also validated against the Compose Specification's JSON schema
(``compose-spec.json`` beside this test, from github.com/compose-spec/compose-spec at
170098b, Apache-2.0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from gateway.app.cli import _build_parser
from gateway.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
GATEWAY_IMAGE = COMPOSE["x-gateway-image"]
GATEWAY_SERVICES = {n: s for n, s in SERVICES.items() if s.get("image") == GATEWAY_IMAGE}
# What `docker compose` takes from .env; the file refuses to start without them.
DOTENV = {"POSTGRES_PASSWORD": "pg-secret", "RABBITMQ_PASSWORD": "mq-secret"}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (enough for this file)."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:[-?])([^}]*))?\}", one, value)


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
    workers = [s for s in GATEWAY_SERVICES.values() if s["command"][:2] == ["gateway", "worker"]]
    assert len(workers) == 1 and workers[0]["deploy"]["replicas"] >= 2
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
        monkeypatch.setenv(key, _interpolate(str(value), DOTENV))
    settings = Settings()
    assert settings.amqp_url == "amqp://gateway:mq-secret@rabbitmq:5672/"
    assert settings.database_url == "postgresql+asyncpg://gateway:pg-secret@postgres:5432/gateway"
    assert settings.run_emulators is False
    assert settings.systems.navigator.base_url.startswith("http://emulators:")


def test_health_checks_dependencies_and_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared, (name, volume)
        if service.get("restart") != "no":
            assert service.get("restart") == "unless-stopped", name
            if not name.startswith("worker"):
                assert "healthcheck" in service, name
        for dep in service.get("depends_on", {}):
            assert dep in SERVICES, (name, dep)


def test_dockerfile_installs_the_gost_engine_and_the_packages() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "libengine-gost-openssl" in text
    for package in ("gateway", "adapters", "signing", "queues", "emulators"):
        assert f"COPY {package} ./{package}" in text


def test_the_file_follows_the_compose_specification() -> None:
    schema = json.loads((Path(__file__).with_name("compose-spec.json")).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_check_catches_a_broken_file() -> None:
    schema = json.loads((Path(__file__).with_name("compose-spec.json")).read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["gateway"]["restart"] = {"policy": "always"}
    broken["services"]["worker"]["replica"] = 2  # a misspelt key
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


def test_one_image_built_once() -> None:
    built = [n for n, s in SERVICES.items() if "build" in s]
    assert built == ["pki"], built
    for name, service in GATEWAY_SERVICES.items():
        if "build" not in service:
            assert service.get("pull_policy") == "never", name
    assert {"pki", "emulators", "gateway", "worker"} <= set(GATEWAY_SERVICES)


def test_brokers_and_database_on_loopback_without_guest() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    mq = SERVICES["rabbitmq"]["environment"]
    assert mq["RABBITMQ_DEFAULT_USER"] not in ("", "guest")
    assert ":?" in mq["RABBITMQ_DEFAULT_PASS"]  # no default password: .env must set one
    assert ":?" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError):
        _interpolate(COMPOSE["x-gateway-env"]["GATEWAY_AMQP_URL"], {})
    assert "guest" not in json.dumps(COMPOSE)


def test_the_image_default_command_starts_no_emulators_and_no_test_pki(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Dockerfile's ENV and CMD give a gateway that refuses to run on emulator defaults."""
    from gateway.systems.smev import startup_problems

    text = (REPO / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env_lines = [line[len("ENV ") :] for line in text.splitlines() if line.startswith("ENV ")]
    for line in env_lines:
        for key, value in re.findall(r"(GATEWAY_[A-Z_]+)=(\S+)", line):
            monkeypatch.setenv(key, value)
    cmd = json.loads(next(line for line in text.splitlines() if line.startswith("CMD "))[len("CMD ") :])
    assert cmd == ["gateway", "serve"]
    monkeypatch.setenv("GATEWAY_DATA_DIR", "/nonexistent-gateway-data")
    settings = Settings()
    assert settings.run_emulators is False
    assert not settings.systems.emulated
    assert startup_problems(settings), "the bare image must say what is not configured instead of serving"
