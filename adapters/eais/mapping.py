"""Our documents ⇄ the EAIS DO data package (stand-in schema ``package.schema.json``).

What goes where: D3 (provider application) → a partner and its programmes; D6 (social
certificate) → a certificate; D7 (contract) → its partner, programme and the contract (the
coverage record), which refers to the certificate sent with D6 (EAIS DO refuses a contract
whose certificate it has not got).  Object ``uuid`` values are UUIDv5 of stable business keys (INN,
programme, certificate and contract numbers) under the region's datasource, so a document
sent again updates the same objects.  ``metadata["deleted"] == "true"`` sends tombstones
(``isDeleted``).  Children are counted by birth year only: no name, SNILS or document of a
child or parent goes to EAIS DO.

A package is a function of the stored message alone: ``packageId`` comes from the message
id, and ``lastmodifiedTs``/``createdTs`` (unix seconds) from the message's metadata:
``modified_ts`` (the gateway's last change of the document) when given, else ``created_at``
(the time of the ``send``), else, for a message written before ``created_at`` existed, the
start (UTC) of the document's date.  Never from the clock: a redelivered message must be the
same package, byte for byte, or EAIS DO refuses it as a ``package_id_conflict``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.base import Outgoing, PermanentError

NAMESPACE = uuid.UUID("3a4c1f0e-9d2b-4e61-8f57-0c8d5e7a6b21")
SUPPORTED = ("provider_registry_application", "social_certificate", "service_contract")


def object_uuid(datasource: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{datasource}:{kind}:{key}"))


def package_uuid(message_id: str) -> str:
    """The same message always makes the same ``packageId`` (a retry is a duplicate, not a new package)."""
    return str(uuid.uuid5(NAMESPACE, f"package:{message_id}"))


def _amount(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def package_time(outgoing: Outgoing) -> int:
    """The package's ``lastmodifiedTs`` in unix seconds, from the stored message (see the module doc)."""
    meta = outgoing.metadata
    try:
        if meta.get("modified_ts"):
            return int(meta["modified_ts"])
        if meta.get("created_at"):
            sent = dt.datetime.fromisoformat(meta["created_at"])
            return int((sent if sent.tzinfo else sent.replace(tzinfo=dt.UTC)).timestamp())
        day = dt.date.fromisoformat(str(outgoing.payload["date"]))
    except (KeyError, TypeError, ValueError):
        raise PermanentError("invalid_document", "В сообщении нет времени отправки и даты документа") from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


class _Builder:
    def __init__(self, outgoing: Outgoing, datasource: str) -> None:
        self.o = outgoing
        self.datasource = datasource
        self.ts = package_time(outgoing)
        self.deleted = outgoing.metadata.get("deleted") == "true"
        self.objects: dict[str, list[dict[str, Any]]] = {}

    def add(self, plural: str, kind: str, key: str, fields: Mapping[str, Any], *, local_id: str) -> str:
        oid = object_uuid(self.datasource, kind, key)
        obj: dict[str, Any] = {"uuid": oid, "lastmodifiedTs": self.ts, "datasource": self.datasource,
                               "localId": local_id[:128], "isDeleted": self.deleted}  # fmt: skip
        if not self.deleted:
            obj.update({k: v for k, v in fields.items() if v is not None})
        self.objects.setdefault(plural, []).append(obj)
        return oid

    def partner(self, provider: Mapping[str, Any], name_key: str = "name", *, keep: bool = False) -> str:
        fields = {"name": provider.get(name_key), "inn": provider["inn"], "ogrn": provider.get("ogrn"),
                  "kpp": provider.get("kpp"), "partnerType": "additional", "department": "educations",
                  "municipality": self.o.municipality}  # fmt: skip
        return self._add_kept("partners", "partner", provider["inn"], fields, provider["inn"], keep)

    def program(self, partner_uuid: str, inn: str, service: Mapping[str, Any], *, keep: bool = False) -> str:
        ref = service.get("programme_id") or service.get("service_code") or ""
        name = service.get("programme_name") or service.get("service_code") or "программа"
        fields = {"partnerUuid": partner_uuid, "name": name, "programType": "general", "state": "published",
                  "programRegistries": ["certified"], "certificateRequired": True,
                  "serviceCode": service.get("service_code"), "hours": service.get("hours"),
                  "municipality": self.o.municipality}  # fmt: skip
        return self._add_kept("programs", "program", f"{inn}:{ref}:{name}", fields, ref or name, keep)

    def _add_kept(self, plural: str, kind: str, key: str, fields: Mapping[str, Any], local_id: str, keep: bool) -> str:
        """Objects a contract only refers to are sent live even when the contract is withdrawn."""
        if keep and self.deleted:
            self.deleted = False
            try:
                return self.add(plural, kind, key, fields, local_id=local_id)
            finally:
                self.deleted = True
        return self.add(plural, kind, key, fields, local_id=local_id)


def package(outgoing: Outgoing, datasource: str) -> dict[str, Any]:
    """The whole request body ``{"package": {...}}`` for one outgoing document."""
    if outgoing.doc_type not in SUPPORTED:
        raise PermanentError("unsupported_document", f"Документ вида {outgoing.doc_type} не направляется в ЕАИС ДО")
    b = _Builder(outgoing, datasource)
    p = outgoing.payload
    try:
        if outgoing.doc_type == "provider_registry_application":
            prov = p["provider"]
            partner = b.partner(prov, "full_name")
            for service in p["services"]:
                b.program(partner, prov["inn"], service)
        elif outgoing.doc_type == "social_certificate":
            b.add("certificates", "certificate", p["number"], {
                "number": p["number"], "nominal": _amount(p["nominal"]), "validFrom": p["period"]["valid_from"],
                "validTo": p["period"]["valid_to"], "status": "active", "municipality": outgoing.municipality,
                "childBirthYear": dt.date.fromisoformat(p["child"]["birth_date"]).year,
            }, local_id=p["number"])  # fmt: skip
        else:
            prov = p["provider"]
            partner = b.partner(prov, keep=True)
            program = b.program(partner, prov["inn"], p["programme"], keep=True)
            b.add("contracts", "contract", p["number"], {
                "number": p["number"], "partnerUuid": partner, "programUuid": program,
                "certificateUuid": object_uuid(datasource, "certificate", p["certificate"]["number"]),
                "dateBegin": p["period"]["valid_from"], "dateEnd": p["period"]["valid_to"], "price": _amount(p["price"]),
                "certificateAmount": _amount(p["certificate_amount"]), "parentAmount": _amount(p["parent_amount"]),
                "financingSource": "pfdod_certificate", "municipality": outgoing.municipality,
                "childBirthYear": dt.date.fromisoformat(p["child"]["birth_date"]).year,
            }, local_id=p["number"])  # fmt: skip
    except (KeyError, TypeError, ValueError, InvalidOperation):
        raise PermanentError("invalid_document", "Документ не содержит полей, нужных ЕАИС ДО") from None
    singular = {"partners": "partner", "programs": "program", "certificates": "certificate", "contracts": "contract"}
    return {
        "package": {
            "packageId": package_uuid(outgoing.message_id),
            "datasource": datasource,
            "createdTs": b.ts,
            "objects": {plural: {singular[plural]: objs} for plural, objs in b.objects.items()},
        }
    }


@dataclass(frozen=True, slots=True)
class CertificateObject:
    """A certificate of the recipients' register as EAIS DO gets it: no names, the child's birth year only."""

    number: str
    municipality: str
    nominal: str
    valid_from: str
    valid_to: str
    status: str
    child_birth_year: int | None
    deleted: bool
    modified_ts: int  # unix seconds of the register's last change of the record (last writer wins)


def certificates_package(message_id: str, datasource: str, items: Sequence[CertificateObject]) -> dict[str, Any]:
    """A package of register certificates (same object ``uuid`` as a D6 sent as a document)."""
    if not items:
        raise PermanentError("empty_package", "Пакет без объектов не отправляется")
    objs = []
    for c in items:
        obj: dict[str, Any] = {"uuid": object_uuid(datasource, "certificate", c.number), "lastmodifiedTs": c.modified_ts,
                               "datasource": datasource, "localId": c.number[:128], "isDeleted": c.deleted}  # fmt: skip
        if not c.deleted:
            obj.update({"number": c.number, "nominal": _amount(c.nominal), "validFrom": c.valid_from,
                        "validTo": c.valid_to, "status": c.status, "municipality": c.municipality})  # fmt: skip
            if c.child_birth_year is not None:
                obj["childBirthYear"] = c.child_birth_year
        objs.append(obj)
    created = max(c.modified_ts for c in items)
    return {"package": {"packageId": package_uuid(message_id), "datasource": datasource, "createdTs": created,
                        "objects": {"certificates": {"certificate": objs}}}}  # fmt: skip
