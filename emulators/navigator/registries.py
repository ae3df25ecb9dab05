"""The Navigator's registries at realistic volume, generated lazily and deterministically.

A registry of N records is not stored: record ``i`` is computed from a seed when a page
asks for it, so 120,000 certificates cost nothing until read.  Changes (a balance spent,
a provider excluded, a record deleted, a record added from a pushed document) go into a
small overlay and get the next change number (``seq``), so a change cursor — "everything
after seq S, oldest change first" — sees every record once in its latest version, and a
changed record again after its change.  Names are synthetic (drawn from short lists).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]

MUNICIPALITIES = ("livny", "luga", "omsk", "kirovsky", "leninogorsk")
LAST = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров")
FIRST = ("Александр", "Михаил", "Артём", "Матвей", "Максим", "Иван", "Дмитрий", "Даниил", "Кирилл", "Андрей")
MIDDLE = ("Александрович", "Сергеевич", "Дмитриевич", "Андреевич", "Алексеевич", "Игоревич")
FORMS = ("nko", "municipal_institution", "commercial", "individual_entrepreneur", "state_institution")
EPOCH = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


class CursorError(ValueError):
    pass


def encode_cursor(scope: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{scope}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str | None) -> int:
    """The seq a cursor stands for; 0 for no cursor. Raises :class:`CursorError` for a foreign or broken one."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, owner, seq = text.split(":")
        value = int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("курсор не разобран") from None
    if version != "v1" or owner != scope or value < 0:
        raise CursorError("курсор выдан для другого реестра")
    return value


def _bytes(seed: int, kind: str, i: int) -> bytes:
    return hashlib.blake2b(f"{seed}:{kind}:{i}".encode(), digest_size=16).digest()


def _checksum_inn10(body: str) -> str:
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    return body + str(sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11 % 10)


def make_certificate(seed: int, i: int) -> Record:
    h = _bytes(seed, "certificate", i)
    nominal = 10_000 + (h[1] % 21) * 500
    spent = (h[2] % 11) * 500 if h[2] % 11 * 500 <= nominal else 0
    born = dt.date(2009, 1, 1) + dt.timedelta(days=int.from_bytes(h[6:8], "big") % (13 * 365))
    return {
        "id": f"cert-{i + 1:08d}",
        "seq": i + 1,
        "number": f"57{i + 1:08d}",
        "status": ("active", "active", "active", "active", "suspended", "closed")[h[0] % 6],
        "nominal": f"{nominal}.00",
        "balance": f"{nominal - spent}.00",
        "validFrom": "2026-09-01",
        "validTo": "2027-08-31",
        "municipality": MUNICIPALITIES[h[3] % len(MUNICIPALITIES)],
        "recipient": {
            "lastName": LAST[h[4] % len(LAST)], "firstName": FIRST[h[5] % len(FIRST)],
            "middleName": MIDDLE[h[8] % len(MIDDLE)], "birthDate": born.isoformat(),
        },  # fmt: skip
        "updatedAt": (EPOCH + dt.timedelta(seconds=i)).isoformat(),
        "deleted": False,
    }


def make_provider(seed: int, i: int) -> Record:
    h = _bytes(seed, "provider", i)
    form = FORMS[h[0] % len(FORMS)]
    entrepreneur = form == "individual_entrepreneur"
    inn = f"57{i + 1:09d}0" if entrepreneur else _checksum_inn10(f"57{i + 1:07d}")
    record: Record = {
        "id": f"prov-{i + 1:06d}",
        "seq": i + 1,
        "inn": inn,
        "ogrn": f"3{i + 1:014d}" if entrepreneur else f"1{i + 1:012d}",
        "fullName": f"Организация дополнительного образования № {i + 1}",
        "shortName": f"ОДО № {i + 1}",
        "legalForm": form,
        "status": "included" if h[1] % 10 else "excluded",
        "municipality": MUNICIPALITIES[h[2] % len(MUNICIPALITIES)],
        "includedOn": "2026-08-15",
        "updatedAt": (EPOCH + dt.timedelta(seconds=i)).isoformat(),
        "deleted": False,
    }
    if not entrepreneur:
        record["kpp"] = "570101001"
    return record


class LazyRegistry:
    """``count`` generated records (seq 1..count) plus an overlay of changed and added ones."""

    def __init__(self, scope: str, count: int, make: Callable[[int], Record]) -> None:
        self.scope = scope
        self.count = count
        self.make = make
        self.overlay: dict[str, Record] = {}
        self.overridden: set[int] = set()
        self.seqs: list[int] = []
        self.by_seq: dict[int, str] = {}

    @property
    def max_seq(self) -> int:
        return self.seqs[-1] if self.seqs else self.count

    def get(self, index: int) -> Record:
        base = self.make(index)
        return self.overlay.get(base["id"], base)

    def page(self, after: int, limit: int) -> tuple[list[Record], int, bool]:
        """Up to ``limit`` records changed after seq ``after``; the seq to resume from; whether more remain."""
        items: list[Record] = []
        last = after
        i = after
        while i < self.count and len(items) < limit:
            if i not in self.overridden:
                items.append(self.make(i))
            i += 1
            last = i
        if len(items) < limit:
            j = bisect.bisect_right(self.seqs, max(after, self.count))
            while j < len(self.seqs) and len(items) < limit:
                seq = self.seqs[j]
                record = self.overlay[self.by_seq[seq]]
                if record["seq"] == seq:
                    items.append(record)
                last = seq
                j += 1
        return items, last, last < self.max_seq

    def put(self, record: Record, index: int | None = None) -> Record:
        """Store a changed (``index`` of a generated record) or a new record under the next seq."""
        seq = self.max_seq + 1
        stored = {**record, "seq": seq, "updatedAt": dt.datetime.now(dt.UTC).isoformat()}
        self.overlay[stored["id"]] = stored
        if index is not None:
            self.overridden.add(index)
        self.seqs.append(seq)
        self.by_seq[seq] = stored["id"]
        return stored

    def mutate(self, count: int, *, delete: int = 0) -> list[str]:
        """Change ``count`` generated records (spread over the registry) and delete ``delete`` more."""
        changed: list[str] = []
        total = count + delete
        step = max(1, self.count // max(total, 1))
        for k in range(min(total, self.count)):
            index = (k * step + 7) % self.count
            record = dict(self.get(index))
            if k < count:
                if "balance" in record:
                    record["balance"] = "0.00"
                    record["status"] = "closed"
                else:
                    record["status"] = "excluded" if record["status"] == "included" else "included"
            else:
                record["deleted"] = True
            changed.append(self.put(record, index)["id"])
        return changed
