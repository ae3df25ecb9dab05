"""Reads the municipality profile files: ``_defaults.yaml`` merged under each ``<id>.yaml``.

Adding a municipality is writing one file; the file name must equal its ``id``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.municipalities.profile import Profile

DEFAULTS_FILE = "_defaults.yaml"


class ProfileError(Exception):
    """A profile file that cannot be used; the message names the file and the field."""


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` over ``base``: mappings recursively, everything else replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path.name}: must hold a mapping")
    return data


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Load and validate every profile in ``directory``; raise :class:`ProfileError` on the first bad one."""
    defaults_path = directory / DEFAULTS_FILE
    defaults = _read(defaults_path) if defaults_path.exists() else {}
    profiles: dict[str, Profile] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        raw = deep_merge(defaults, _read(path))
        try:
            profile = Profile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first["loc"])
            raise ProfileError(f"{path.name}: {where}: {first['msg']}") from None
        if profile.id != path.stem:
            raise ProfileError(f"{path.name}: id {profile.id!r} must equal the file name")
        profiles[profile.id] = profile
    if not profiles:
        raise ProfileError(f"no municipality profiles in {directory}")
    return profiles
