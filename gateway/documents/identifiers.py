"""Russian registration identifiers with their check digits: INN, OGRN/OGRNIP, KPP, SNILS.

Pure functions, no I/O.  The check-digit algorithms are those of the Federal Tax Service
(INN, OGRN) and the Social Fund (SNILS); no maintained PyPI package covers all four with
typed validators for pydantic, so they are written here (a few lines each).  The
``make_*`` helpers build valid numbers from a seed: examples and tests use them so that
no real person's or organisation's number is ever needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_is_valid(value: str) -> bool:
    if not value.isdigit() or not value.isascii():
        return False
    if len(value) == 10:
        return _weighted(value, _INN10_WEIGHTS) == int(value[9])
    if len(value) == 12:
        return _weighted(value, _INN12_WEIGHTS_1) == int(value[10]) and _weighted(
            value, _INN12_WEIGHTS_2
        ) == int(value[11])
    return False


def ogrn_is_valid(value: str) -> bool:
    if not value.isdigit() or not value.isascii():
        return False
    if len(value) == 13:
        return int(value[:12]) % 11 % 10 == int(value[12])
    if len(value) == 15:
        return int(value[:14]) % 13 % 10 == int(value[14])
    return False


_KPP_RE = re.compile(r"^\d{4}[0-9A-Z]{2}\d{3}$")


def kpp_is_valid(value: str) -> bool:
    return bool(_KPP_RE.fullmatch(value))


def snils_digits(value: str) -> str:
    return re.sub(r"[\s-]", "", value)


def snils_is_valid(value: str) -> bool:
    digits = snils_digits(value)
    if len(digits) != 11 or not digits.isdigit() or not digits.isascii():
        return False
    body, check = digits[:9], int(digits[9:])
    if int(body) <= 1001998:  # numbers up to 001-001-998 carry no check sum
        return True
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    if total > 101:
        total %= 101
    return (0 if total in (100, 101) else total) == check


def format_snils(digits: str) -> str:
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


def make_inn10(seed: int, region: str = "57") -> str:
    body = f"{region}{seed % 10**7:07d}"
    return body + str(_weighted(body, _INN10_WEIGHTS))


def make_inn12(seed: int, region: str = "57") -> str:
    body = f"{region}{seed % 10**8:08d}"
    body += str(_weighted(body, _INN12_WEIGHTS_1))
    return body + str(_weighted(body, _INN12_WEIGHTS_2))


def make_ogrn(seed: int) -> str:
    body = f"1{seed % 10**11:011d}"
    return body + str(int(body) % 11 % 10)


def make_ogrnip(seed: int) -> str:
    body = f"3{seed % 10**13:013d}"
    return body + str(int(body) % 13 % 10)


def make_snils(seed: int) -> str:
    body = f"{(seed % 898_000_000) + 100_000_000:09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    if total > 101:
        total %= 101
    check = 0 if total in (100, 101) else total
    return format_snils(f"{body}{check:02d}")


def _check(predicate: Callable[[str], bool], code: str, message: str) -> Callable[[str], str]:
    def validate(value: str) -> str:
        if not predicate(value):
            raise PydanticCustomError(code, message)
        return value

    return validate


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _normalise_snils(value: object) -> object:
    if isinstance(value, str):
        digits = snils_digits(value)
        if len(digits) == 11 and digits.isdigit():
            return format_snils(digits)
    return value


Inn = Annotated[
    str,
    Field(pattern=r"^(\d{10}|\d{12})$", description="ИНН (10 цифр у юрлица, 12 у ИП и физлица)"),
    BeforeValidator(_strip),
    AfterValidator(_check(inn_is_valid, "inn_checksum", "Неверное контрольное число ИНН")),
]
InnLegal = Annotated[
    str,
    Field(pattern=r"^\d{10}$", description="ИНН юридического лица (10 цифр)"),
    BeforeValidator(_strip),
    AfterValidator(_check(inn_is_valid, "inn_checksum", "Неверное контрольное число ИНН")),
]
Ogrn = Annotated[
    str,
    Field(pattern=r"^(\d{13}|\d{15})$", description="ОГРН (13 цифр) или ОГРНИП (15 цифр)"),
    BeforeValidator(_strip),
    AfterValidator(_check(ogrn_is_valid, "ogrn_checksum", "Неверное контрольное число ОГРН/ОГРНИП")),
]
Kpp = Annotated[
    str,
    Field(pattern=r"^\d{4}[0-9A-Z]{2}\d{3}$", description="КПП (9 знаков)"),
    BeforeValidator(_strip),
]
Snils = Annotated[
    str,
    Field(pattern=r"^\d{3}-\d{3}-\d{3} \d{2}$", description="СНИЛС в виде XXX-XXX-XXX YY"),
    BeforeValidator(_normalise_snils),
    AfterValidator(_check(snils_is_valid, "snils_checksum", "Неверное контрольное число СНИЛС")),
]
