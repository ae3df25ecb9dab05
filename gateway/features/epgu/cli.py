"""``gateway epgu …``: play EPGU against the SMEV emulator (demos and manual checks).

``gateway epgu inject --municipality luga --count 3`` asks the emulator (playing EPGU) to
send applications valid for that municipality's profile: its OKTMO, an approved service
code (or a listed programme) and a combined request only where the profile allows one.
:func:`sample_applications` is the same data for scripts that call the emulator themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any
from urllib.parse import urlsplit

from gateway.municipalities import Profile

DEMO_PROVIDER = {"name": "ООО «Пример» (исполнитель услуг)", "inn": "5702000032"}  # the test PKI's provider


def sample_applications(profile: Profile, count: int, provider: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Overrides for ``POST /_emulator/epgu/applications`` that the profile's rules accept."""
    if profile.oktmo is None:
        raise ValueError(f"у муниципалитета {profile.id} не задан ОКТМО: заявления с ЕПГУ к нему не направляются")
    if profile.services:
        programme: dict[str, Any] = {"service_code": profile.services[0].code, "programme_name": profile.services[0].name[:1000],
                                     "programme_id": None}  # fmt: skip
    elif profile.programmes:
        programme = {"programme_id": profile.programmes[0].id, "programme_name": profile.programmes[0].name[:1000]}
    else:
        raise ValueError(f"в профиле {profile.id} нет ни услуг, ни программ")
    kinds = profile.consumer_application.request_kinds
    return [
        {"oktmo": profile.oktmo, "enrolment": "enrolment" in kinds, "certificate": "certificate" in kinds,
         "programme": {**programme, "provider": dict(provider or DEMO_PROVIDER)}}
        for _ in range(count)
    ]  # fmt: skip


def _inject(args: argparse.Namespace) -> int:
    import httpx

    from gateway.core.settings import Settings
    from gateway.municipalities import load_profiles

    settings = Settings()
    profiles = load_profiles(settings.municipalities_dir)
    profile = profiles.get(args.municipality)
    if profile is None:
        print(f"Неизвестный муниципалитет: {args.municipality}; настроены: {', '.join(sorted(profiles))}", file=sys.stderr)
        return 2
    provider = {"name": args.provider_name, "inn": args.provider_inn} if args.provider_inn else None
    try:
        items = sample_applications(profile, args.count, provider)
    except ValueError as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        return 2
    parts = urlsplit(settings.smev.endpoint())
    url = f"{parts.scheme}://{parts.netloc}/_emulator/epgu/applications"

    async def go() -> int:
        async with httpx.AsyncClient(timeout=30) as http:
            try:
                resp = await http.post(url, json={"count": args.count, "version": settings.smev.schema_version, "applications": items})
            except httpx.HTTPError as exc:
                print(f"Эмулятор СМЭВ недоступен ({url}): {type(exc).__name__}", file=sys.stderr)
                return 1
        if resp.status_code != 200:
            print(f"Эмулятор отказал: HTTP {resp.status_code}", file=sys.stderr)
            return 1
        for sent in resp.json()["sent"]:
            print(f"Заявление ЕПГУ № {sent['order_id']} отправлено (MessageID {sent['message_id']})")
        return 0

    return asyncio.run(go())


def add_commands(subparsers: Any) -> None:
    epgu = subparsers.add_parser("epgu", help="ЕПГУ через СМЭВ 3: заявления от эмулятора")
    sub = epgu.add_subparsers(dest="epgu_command", required=True, metavar="COMMAND")
    inject = sub.add_parser("inject", help="эмулятор (в роли ЕПГУ) отправляет заявления для муниципалитета")
    inject.add_argument("--municipality", required=True, help="муниципалитет (id профиля)")
    inject.add_argument("--count", type=int, default=1, help="сколько заявлений отправить")
    inject.add_argument("--provider-inn", default=None, help="ИНН исполнителя услуг в заявлениях")
    inject.add_argument("--provider-name", default=DEMO_PROVIDER["name"], help="наименование исполнителя услуг в заявлениях")
    inject.set_defaults(func=_inject)
