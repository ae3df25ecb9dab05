"""What the emulated Navigator remembers: clients and tokens, pushed documents, the change feed, registries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from emulators.navigator.registries import LazyRegistry, make_certificate, make_provider
from signing import cms
from signing.keys import Signer

DEFAULT_CERTIFICATES = 120_000
DEFAULT_PROVIDERS = 2_000


@dataclass
class PushedDocument:
    navigator_id: str
    message_id: str
    kind: str
    number: str
    municipality: str
    source_document_id: str
    digest: str
    signed_xml: bytes
    signature: bytes | None
    status: str = "received"

    def describe(self) -> dict[str, Any]:
        return {"navigator_id": self.navigator_id, "message_id": self.message_id, "kind": self.kind,
                "number": self.number, "municipality": self.municipality, "status": self.status}  # fmt: skip


class NavigatorState:
    def __init__(
        self,
        *,
        clients: dict[str, str] | None = None,
        certificates: int = DEFAULT_CERTIFICATES,
        providers: int = DEFAULT_PROVIDERS,
        seed: int = 57,
        provider_signer: Signer | None = None,
    ) -> None:
        self.clients = clients or {"gateway": "navigator-emulator-secret"}
        self.tokens: dict[str, float] = {}
        self.token_ttl_s = 3600.0
        self.strict_references = True
        self.provider_signer = provider_signer
        self.auto_countersign = provider_signer is not None
        self.seed = seed
        self.documents: dict[str, PushedDocument] = {}
        self.by_message: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.reset(certificates, providers)

    def reset(self, certificates: int, providers: int) -> None:
        seed = self.seed
        self.certificates = LazyRegistry("certificates", certificates, lambda i: make_certificate(seed, i))
        self.providers = LazyRegistry("providers", providers, lambda i: make_provider(seed, i))
        self.provider_inns: dict[str, str] = {}  # INN → record id, for providers added from applications
        self.certificate_ids: dict[str, str] = {}  # number → record id, for certificates added or corrected
        self.reports: dict[str, tuple[str, dict[str, Any]]] = {}  # message_id → (body digest, reply) of status reports
        self.corrections: dict[str, tuple[str, dict[str, Any]]] = {}  # message_id → (body digest, reply)

    def registry(self, name: str) -> LazyRegistry | None:
        return {"certificates": self.certificates, "providers": self.providers}.get(name)

    # ------------------------------------------------------------------ tokens
    def issue_token(self, client_id: str, secret: str) -> str | None:
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, secret):
            return None
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_ttl_s
        return token

    def check_token(self, header: str | None) -> str | None:
        """``None`` when the bearer token is good, else the error code."""
        if not header or not header.startswith("Bearer "):
            return "token_missing"
        expiry = self.tokens.get(header[7:])
        if expiry is None:
            return "invalid_token"
        if expiry < time.monotonic():
            return "token_expired"
        return None

    # ------------------------------------------------------------------ references
    def provider_known(self, inn: str) -> bool:
        if inn in self.provider_inns:
            return True
        digits = inn[2:9] if len(inn) == 10 else inn[2:11]
        if not inn.startswith("57") or not digits.isdigit():
            return False
        index = int(digits) - 1
        return 0 <= index < self.providers.count and self.providers.get(index)["inn"] == inn

    def application_known(self, number: str, municipality: str) -> bool:
        return any(
            d.kind == "provider_application" and d.number == number and d.municipality == municipality
            for d in self.documents.values()
        )

    def certificate_known(self, number: str) -> bool:
        if number in self.certificate_ids or any(
            d.kind == "social_certificate" and d.number == number for d in self.documents.values()
        ):
            return True
        if len(number) == 10 and number.startswith("57") and number[2:].isdigit():
            return 0 <= int(number[2:]) - 1 < self.certificates.count
        return False

    # ------------------------------------------------------------------ documents and events
    def add_event(self, kind: str, **payload: Any) -> dict[str, Any]:
        event = {"seq": len(self.events) + 1, "type": kind, "occurredAt": dt.datetime.now(dt.UTC).isoformat(), **payload}
        self.events.append(event)
        return event

    def store(self, push: dict[str, Any], signed_xml: bytes, signature: bytes | None) -> PushedDocument:
        navigator_id = f"nav-{len(self.documents) + 1:07d}"
        doc = PushedDocument(
            navigator_id=navigator_id, message_id=push["message_id"], kind=push["kind"], number=push["number"],
            municipality=push["municipality"], source_document_id=push["source_document_id"],
            digest=hashlib.sha256(signed_xml).hexdigest(), signed_xml=signed_xml, signature=signature,
        )  # fmt: skip
        self.documents[navigator_id] = doc
        self.by_message[doc.message_id] = navigator_id
        body = push["body"]
        if doc.kind == "provider_application":
            provider = body["provider"]
            record = {
                "id": f"prov-x{len(self.provider_inns) + 1:05d}", "inn": provider["inn"], "ogrn": provider["ogrn"],
                "fullName": provider["fullName"], "shortName": provider.get("shortName", provider["fullName"][:255]),
                "legalForm": provider["legalForm"], "status": "included", "municipality": doc.municipality,
                "includedOn": dt.date.today().isoformat(), "deleted": False,
                **({"kpp": provider["kpp"]} if "kpp" in provider else {}),
            }  # fmt: skip
            self.providers.put(record)
            self.provider_inns[provider["inn"]] = record["id"]
            doc.status = "included"
            self.add_event("document_status", document={"navigatorId": navigator_id, "status": "included"})
        elif doc.kind == "social_certificate":
            self.upsert_certificate(
                body["certificateNumber"], f"cert-x{navigator_id[4:]}",
                {"nominal": body["nominal"], "validFrom": body["validFrom"], "validTo": body["validTo"],
                 "municipality": doc.municipality, "recipient": body["child"], "deleted": False},
                created={"status": "active", "balance": body["nominal"]},
            )  # fmt: skip
        elif doc.kind == "cost_agreement" and self.auto_countersign:
            self.countersign(doc, None)
        return doc

    # ------------------------------------------------------------------ certificates by number
    def _generated_index(self, number: str) -> int | None:
        if len(number) == 10 and number.startswith("57") and number[2:].isdigit():
            index = int(number[2:]) - 1
            if 0 <= index < self.certificates.count:
                return index
        return None

    def upsert_certificate(
        self, number: str, new_id: str, fields: dict[str, Any], created: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One record per certificate number: change the existing one (a new seq) or add it with ``created`` too.

        Deleting a record that does not exist changes nothing (``None``).
        """
        index = self._generated_index(number)
        existing: dict[str, Any] | None = None
        if index is not None:
            existing = self.certificates.get(index)
        elif number in self.certificate_ids:
            existing = self.certificates.overlay[self.certificate_ids[number]]
        if existing is None:
            if fields.get("deleted"):
                return None
            record = {"id": new_id, "number": number, **created, **fields}
        else:
            record = {**existing, **fields}
            if existing.get("deleted") and not fields.get("deleted"):
                record.update(created)  # revived: as if issued again
        stored = self.certificates.put(record, index)
        self.certificate_ids.setdefault(number, stored["id"])
        return stored

    def correct_certificate(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Apply one correction from the gateway (the issuer's data wins; usage data stays ours)."""
        fields: dict[str, Any] = {"municipality": item["municipality"], "deleted": item["deleted"]}
        for key in ("nominal", "validFrom", "validTo", "recipient"):
            if key in item:
                fields[key] = item[key]
        nominal = item.get("nominal", "0.00")
        created = {"status": item.get("status", "active"), "balance": item.get("balance", nominal),
                   "nominal": nominal, "validFrom": item.get("validFrom", "2000-01-01"),
                   "validTo": item.get("validTo", "2000-01-01"), "recipient": item.get("recipient", {})}  # fmt: skip
        return self.upsert_certificate(item["number"], f"cert-g{item['number']}", fields, created)

    def countersign(self, doc: PushedDocument, signature: bytes | None) -> dict[str, Any]:
        """The provider signs the agreement in the Navigator: a co-signature over the bytes as pushed."""
        if signature is None:
            if self.provider_signer is None:
                raise LookupError("no provider key")
            if doc.signature is not None:
                signature = cms.countersign(doc.signature, doc.signed_xml, self.provider_signer)
            else:
                signature = cms.sign_detached(doc.signed_xml, self.provider_signer)
            cert = self.provider_signer.certificate
            signer_inn = cert.innle or cert.inn or ""
        else:
            reports = cms.verify_detached(signature, doc.signed_xml)
            last = reports[-1].certificate if reports else None
            signer_inn = (last.innle or last.inn or "") if last else ""
        return self.add_event(
            "agreement_signature",
            agreement={"navigatorId": doc.navigator_id, "number": doc.number, "sourceDocumentId": doc.source_document_id,
                       "signature": base64.b64encode(signature).decode("ascii"), "signerInn": signer_inn},
        )  # fmt: skip
