"""Validation of what the Navigator emulator receives, against its copy of the stand-in OpenAPI spec.

Errors name the place (a JSON pointer) and the rule that failed, never the value: D5–D7
carry children's and parents' personal data, and error bodies end up in logs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SPEC_FILE = Path(__file__).resolve().parent / "openapi.yaml"
BODY_SCHEMAS = {
    "provider_application": "ProviderApplicationBody",
    "cost_agreement": "CostAgreementBody",
    "consumer_application": "ConsumerApplicationBody",
    "social_certificate": "SocialCertificateBody",
    "service_contract": "ServiceContractBody",
}


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    return data


@cache
def validator(name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec()["components"]}
    return Draft202012Validator(schema)


def errors(name: str, instance: Any, prefix: str = "") -> list[dict[str, str]]:
    """``[{code, pointer}]`` for every violation of schema ``name`` (at most 20)."""
    out = []
    for error in sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))[:20]:
        pointer = prefix + "".join(f"/{p}" for p in error.absolute_path)
        out.append({"code": f"schema_{error.validator}", "pointer": pointer or "/"})
    return out
