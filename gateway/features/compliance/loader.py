"""Reads the compliance matrices and checks them against the municipality profiles.

A file is parsed and validated once per version on disk; its references are checked
against the profile at every load (set lookups), so a profile that loses an id a matrix
names makes that matrix fail at once, with the item and the id in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from gateway.core.settings import PACKAGE_DATA
from gateway.features.compliance.model import GatewayChecks, Matrix
from gateway.features.compliance.references import profile_ids
from gateway.municipalities import Profile

COMPLIANCE_DIR = PACKAGE_DATA / "compliance"
GATEWAY_FILE = "_gateway.yaml"

M = TypeVar("M", Matrix, GatewayChecks)


class ComplianceError(Exception):
    """A matrix that cannot be used; the message (in Russian) names the file, the item and the id."""


def _yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise ComplianceError(f"{path.name}: файл не разобран как YAML: {exc}") from None


def _invalid(path: Path, raw: Any, exc: ValidationError) -> ComplianceError:
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = list(first["loc"])
    where = "/".join(str(p) for p in loc)
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) and isinstance(raw, dict):
        try:
            where += f" (пункт «{raw['items'][loc[1]]['item']}»)"
        except (KeyError, IndexError, TypeError):
            pass
    return ComplianceError(f"{path.name}: {where}: {first['msg']}")


@lru_cache(maxsize=64)
def _validated(model: type[M], path: str, mtime_ns: int, size: int) -> M:
    """``path`` as ``model``, parsed once per version of the file on disk."""
    raw = _yaml(Path(path))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _invalid(Path(path), raw, exc) from None


def _read(model: type[M], path: Path) -> M:
    stat = path.stat()
    found: M = _validated(model, str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return found


def read_matrix(path: Path) -> Matrix:
    """The validated matrix in ``path`` (its references not yet checked against a profile)."""
    return _read(Matrix, path)


def gateway_checks(directory: Path = COMPLIANCE_DIR) -> GatewayChecks:
    """The rule codes that enforce no decree item, with the reason for each (none without the file)."""
    path = directory / GATEWAY_FILE
    if not path.exists():
        return GatewayChecks(checks=[])
    return _read(GatewayChecks, path)


def reference_problems(matrix: Matrix, profile: Profile) -> list[str]:
    """What in ``matrix`` does not match ``profile``: every reference to an id the profile lacks."""
    problems = []
    if matrix.municipality != profile.id:
        problems.append(f"матрица названа для «{matrix.municipality}», а профиль — «{profile.id}»")
    if matrix.seed_file and profile.decree.seed_file and matrix.seed_file != profile.decree.seed_file:
        problems.append(f"seed_file {matrix.seed_file} не совпадает с decree.seed_file профиля ({profile.decree.seed_file})")
    known = profile_ids(profile)
    for entry in matrix.items:
        for ref in entry.enforced_by:
            if ref.kind != "rule" and ref.id not in known[ref.kind]:
                problems.append(f"пункт «{entry.item}»: {ref} нет в профиле муниципалитета {profile.id}")
    return problems


def load(profile: Profile, directory: Path = COMPLIANCE_DIR) -> Matrix | None:
    """The municipality's matrix checked against its profile; ``None`` when it has none."""
    path = directory / f"{profile.id}.yaml"
    if not path.exists():
        return None
    matrix = read_matrix(path)
    problems = reference_problems(matrix, profile)
    if problems:
        raise ComplianceError(f"{path.name}: " + "; ".join(problems))
    return matrix


def check_all(profiles: Mapping[str, Profile], directory: Path = COMPLIANCE_DIR) -> list[str]:
    """Every problem of the matrices of the configured municipalities (empty: all usable)."""
    problems = []
    for profile in profiles.values():
        try:
            load(profile, directory)
        except ComplianceError as exc:
            problems.append(str(exc))
    try:
        gateway_checks(directory)
    except ComplianceError as exc:
        problems.append(str(exc))
    return problems
