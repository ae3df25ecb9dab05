"""Console sessions: an encrypted, HttpOnly, SameSite=Strict cookie holding the bearer token, and CSRF.

The cookie is encrypted and authenticated (Fernet, via aiohttp-session), so the token is
never readable in the browser, and it holds all the session: any gateway process with the
same ``GATEWAY_CONSOLE__SECRET`` serves it.  Every request re-authenticates the token, so a
revoked or expired token ends the session at once.  Every POST carries the session's CSRF
token in a hidden field.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from multidict import MultiDict, MultiDictProxy

from gateway.core.settings import ConsoleSettings
from gateway.workflow.app_keys import CTX
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from gateway.workflow.tokens import authenticate, bearer_token

log = logging.getLogger("gateway.console")

COOKIE = "gw_console"
PATH = "/console"
_TOKEN = "token"
_CSRF = "csrf"


def cookie_key(settings: ConsoleSettings) -> bytes:
    """The 32-byte cookie key: derived from the configured secret, else random for this process."""
    if settings.secret is None:
        return secrets.token_bytes(32)
    return hashlib.sha256(b"gateway-console-cookie\0" + settings.secret.encode()).digest()


def storage(settings: ConsoleSettings) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(
        cookie_key(settings), cookie_name=COOKIE, path=PATH,
        max_age=settings.session_minutes * 60, secure=settings.cookie_secure, httponly=True, samesite="Strict",
    )  # fmt: skip


def csrf_token(session: Session) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF] = token
    return token


async def checked_form(request: web.Request) -> MultiDictProxy[str]:
    """The POSTed form once its CSRF field matches the session's; 403 ``csrf_invalid`` otherwise."""
    form = await request.post()
    session = await get_session(request)
    expected = session.get(_CSRF)
    sent = form.get(_CSRF)
    if not isinstance(expected, str) or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise Problem(403, "csrf_invalid", "Форма устарела или отправлена не со страницы консоли; откройте страницу заново")
    return MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))


async def sign_in(request: web.Request, token: str) -> Actor:
    """Check ``token`` as the API would; on success a fresh session (new CSRF token) holds it."""
    token = token.strip()
    actor = await authenticate(request.app[CTX], f"Bearer {bearer_token(f'Bearer {token}')}")
    session = await new_session(request)
    session[_TOKEN] = token
    csrf_token(session)
    return actor


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    session.invalidate()


async def current_actor(request: web.Request) -> Actor:
    """The signed-in actor; to the login page when there is none or the token no longer holds."""
    session = await get_session(request)
    token = session.get(_TOKEN)
    if not isinstance(token, str):
        raise web.HTTPSeeOther(f"{PATH}/login")
    try:
        return await authenticate(request.app[CTX], f"Bearer {token}")
    except Problem as problem:
        if problem.status == 401:
            session.invalidate()
            raise web.HTTPSeeOther(f"{PATH}/login?ended={problem.code}") from None
        raise
