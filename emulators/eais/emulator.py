"""Emulated EAIS DO: takes data packages (programmes, providers, certificates, contracts/coverage).

``POST /api/v1/packages`` with ``X-Api-Key``; the body is validated against the emulator's
copy of the stand-in package schema, then checked as EAIS DO would: every object's
``datasource`` is the package's, no ``uuid`` twice in one package, ``lastmodifiedTs`` not in
the future, references (``partnerUuid``, ``programUuid``, ``certificateUuid``) resolve to a
live object in the package or already stored.  A malformed package is refused whole (422)
with ``[{code, pointer}]`` reasons; the answer's ``code`` is ``schema_violation`` or the first reason.  Accepted objects apply by ``uuid`` with last-writer-wins
on ``lastmodifiedTs`` (an older or equal one is counted ``stale`` and ignored) and
``isDeleted`` tombstones.  A repeated ``packageId`` answers the first result (a duplicate in
``/_emulator/received``), or 409 when the body differs; every body is kept by its
``packageId`` in ``/_emulator/bodies``.

Reads: ``GET /api/v1/packages/{packageId}``, ``GET /api/v1/objects/{type}/{uuid}``.
Control: ``GET /_emulator/eais/objects`` (counts per type and state).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from emulators.control import Control, application

SCHEMA_FILE = Path(__file__).resolve().parent / "package.schema.json"
TYPES = {"partners": "partner", "programs": "program", "groups": "group", "certificates": "certificate", "contracts": "contract"}
REFERENCES = {"partnerUuid": "partners", "programUuid": "programs", "certificateUuid": "certificates"}
FUTURE_TOLERANCE_S = 300


@cache
def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def schema_errors(body: Any) -> list[dict[str, str]]:
    errs = sorted(validator().iter_errors(body), key=lambda e: list(e.absolute_path))[:20]
    return [{"code": f"schema_{e.validator}", "pointer": "".join(f"/{p}" for p in e.absolute_path) or "/"} for e in errs]


def _objects(package: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    for plural, singular in TYPES.items():
        for i, obj in enumerate(package["objects"].get(plural, {}).get(singular, [])):
            yield plural, i, obj


def _package_id(body: Any) -> str | None:
    """The ``packageId`` a request claims, before any validation."""
    package = body.get("package") if isinstance(body, dict) else None
    claimed = package.get("packageId") if isinstance(package, dict) else None
    return claimed if isinstance(claimed, str) else None


class EaisEmulator:
    def __init__(self, control: Control, api_keys: set[str]) -> None:
        self.control = control
        self.api_keys = api_keys
        self.store: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in TYPES}
        self.packages: dict[str, tuple[str, dict[str, Any]]] = {}

    def _refuse(self, status: int, code: str, message: str, errors: list[dict[str, str]], package_id: Any = None) -> web.Response:
        body = {"packageId": package_id, "status": "rejected", "code": code, "message": message, "errors": errors}
        return web.json_response(body, status=status)

    def semantic_errors(self, package: dict[str, Any]) -> list[dict[str, str]]:
        errors: list[dict[str, str]] = []
        seen: dict[str, set[str]] = {t: set() for t in TYPES}
        live: dict[str, set[str]] = {t: {u for u, o in self.store[t].items() if not o["isDeleted"]} for t in TYPES}
        for plural, _, obj in _objects(package):
            (live[plural].discard if obj["isDeleted"] else live[plural].add)(obj["uuid"])
        now = time.time()
        for plural, i, obj in _objects(package):
            at = f"/package/objects/{plural}/{TYPES[plural]}/{i}"
            if obj["uuid"] in seen[plural]:
                errors.append({"code": "duplicate_uuid", "pointer": at + "/uuid"})
            seen[plural].add(obj["uuid"])
            if obj["datasource"] != package["datasource"]:
                errors.append({"code": "foreign_datasource", "pointer": at + "/datasource"})
            if obj["lastmodifiedTs"] > now + FUTURE_TOLERANCE_S:
                errors.append({"code": "future_timestamp", "pointer": at + "/lastmodifiedTs"})
            if obj["isDeleted"]:
                continue
            for field, target in REFERENCES.items():
                if field in obj and obj[field] not in live[target]:
                    errors.append({"code": "unknown_reference", "pointer": f"{at}/{field}"})
            for low, high in (("minAge", "maxAge"), ("ageFrom", "ageTo"), ("validFrom", "validTo"), ("dateBegin", "dateEnd")):
                if low in obj and high in obj and obj[low] > obj[high]:
                    errors.append({"code": "range_reversed", "pointer": f"{at}/{high}"})
        return errors[:50]

    def apply(self, package: dict[str, Any]) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "deleted": 0, "stale": 0}
        for plural, _, obj in _objects(package):
            stored = self.store[plural].get(obj["uuid"])
            if stored is not None and stored["lastmodifiedTs"] >= obj["lastmodifiedTs"]:
                counts["stale"] += 1
                continue
            self.store[plural][obj["uuid"]] = obj
            counts["deleted" if obj["isDeleted"] else ("updated" if stored else "created")] += 1
        return counts

    # ------------------------------------------------------------------ HTTP
    async def post_package(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-Api-Key", "")
        if not any(secrets.compare_digest(key, k) for k in self.api_keys):
            return self._refuse(401, "unauthorized", "Неверный ключ доступа", [{"code": "unauthorized", "pointer": "/"}])
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return self._refuse(400, "malformed_json", "Пакет не разобран как JSON", [{"code": "malformed_json", "pointer": "/"}])
        claimed = _package_id(body)
        if claimed is not None:
            self.control.observe(claimed, raw)
        errors = schema_errors(body)
        if errors:
            return self._refuse(422, "schema_violation", "Пакет не соответствует схеме", errors)
        package = body["package"]
        package_id = package["packageId"]
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if package_id in self.packages:
            first_digest, result = self.packages[package_id]
            if first_digest != digest:
                return self._refuse(409, "package_id_conflict", "packageId уже использован для другого пакета",
                                    [{"code": "package_id_conflict", "pointer": "/package/packageId"}], package_id)  # fmt: skip
            self.control.record(package_id, "package")
            return web.json_response({**result, "duplicate": True})
        errors = self.semantic_errors(package)
        if errors:
            return self._refuse(422, errors[0]["code"], "Пакет содержит ошибки", errors, package_id)
        result = {"packageId": package_id, "status": "accepted", "results": self.apply(package), "duplicate": False}
        self.packages[package_id] = (digest, result)
        self.control.record(package_id, "package", objects=sum(1 for _ in _objects(package)))
        return web.json_response(result)

    async def get_package(self, request: web.Request) -> web.Response:
        found = self.packages.get(request.match_info["package_id"])
        if found is None:
            return self._refuse(404, "package_not_found", "Пакет не найден", [{"code": "package_not_found", "pointer": "/"}])
        return web.json_response(found[1])

    async def get_object(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        obj = self.store.get(kind, {}).get(request.match_info["uuid"])
        if obj is None:
            return self._refuse(404, "object_not_found", "Объект не найден", [{"code": "object_not_found", "pointer": "/"}])
        return web.json_response(obj)

    async def counts(self, request: web.Request) -> web.Response:
        return web.json_response({
            t: {"live": sum(not o["isDeleted"] for o in objs.values()), "deleted": sum(o["isDeleted"] for o in objs.values())}
            for t, objs in self.store.items()
        })  # fmt: skip


EMULATOR_KEY: web.AppKey[EaisEmulator] = web.AppKey("eais", EaisEmulator)


def create_app(*, api_keys: set[str] | None = None, control: Control | None = None) -> web.Application:
    control = control or Control("eais")
    emulator = EaisEmulator(control, api_keys or {"eais-emulator-key"})
    app = application(control, client_max_size=20 * 1024 * 1024)
    app[EMULATOR_KEY] = emulator
    app.add_routes(
        [
            web.post("/api/v1/packages", emulator.post_package),
            web.get("/api/v1/packages/{package_id}", emulator.get_package),
            web.get("/api/v1/objects/{type}/{uuid}", emulator.get_object),
            web.get("/_emulator/eais/objects", emulator.counts),
        ]
    )
    return app
