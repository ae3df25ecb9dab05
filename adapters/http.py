"""A small JSON-over-HTTP client shared by the REST adapters (budget portal, Navigator, EAIS DO).

It turns what can go wrong on the wire into the adapter errors: timeouts, resets,
5xx, malformed bodies and 429 become :class:`TransientError` (``retry_after`` from the
``Retry-After`` header when there is one); 4xx answers are returned to the adapter,
which knows the system's error codes and raises :class:`PermanentError`.  Every call
goes through the system's :class:`~adapters.resilience.Resilience`.  Bodies are read up
to ``max_response_bytes`` (one page at a time, never a whole registry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.base import PermanentError, TransientError
from adapters.config import SystemSettings
from adapters.resilience import Resilience


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form only)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class JsonClient:
    """One aiohttp session per system, created lazily inside the running loop."""

    def __init__(self, name: str, title: str, settings: SystemSettings, *, resilience: Resilience | None = None) -> None:
        self.name = name
        self.title = title  # Russian name of the system, for messages
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.resilience = resilience or Resilience(name, settings)
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s, sock_connect=self.settings.connect_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> Reply:
        """One call under the breaker and the bucket; idempotent reads get ``read_attempts`` tries."""

        async def once() -> Reply:
            return await self._send(method, path, json_body, params, headers)

        attempts = self.settings.read_attempts if idempotent else 1
        return await self.resilience.call(once, attempts=attempts)

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        url = self.base_url + path
        data = None if json_body is None else json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        hdrs = {"Accept": "application/json", **(headers or {})}
        if data is not None:
            hdrs["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._get_session().request(method, url, data=data, params=params, headers=hdrs) as resp:
                raw = await self._read_limited(resp)
                status, resp_headers = resp.status, dict(resp.headers)
        except TimeoutError:
            raise TransientError(
                "timeout", f"{self.title}: нет ответа за {self.settings.timeout_s:g} с"
            ) from None
        except aiohttp.ClientError as exc:
            raise TransientError(
                "connection_error", f"{self.title}: соединение прервано ({type(exc).__name__})"
            ) from None
        if status == 429:
            raise TransientError(
                "rate_limited", f"{self.title}: система просит снизить темп обращений (429)",
                retry_after=retry_after(resp_headers),
            )  # fmt: skip
        if status == 503:
            raise TransientError(
                "unavailable", f"{self.title}: система временно недоступна (503)", retry_after=retry_after(resp_headers)
            )
        if status >= 500:
            raise TransientError("server_error", f"{self.title}: ошибка на стороне системы (HTTP {status})")
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            raise TransientError("malformed_reply", f"{self.title}: ответ не разобран как JSON (HTTP {status})") from None
        return Reply(status, body, resp_headers)

    async def _read_limited(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.settings.max_response_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise PermanentError("response_too_large", f"{self.title}: ответ больше {limit} байт")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise PermanentError("response_too_large", f"{self.title}: ответ больше {limit} байт")
            chunks.append(chunk)
        return b"".join(chunks)


def remote_errors(body: Any) -> list[dict[str, str]]:
    """``code``/``pointer`` pairs from a system's error body; never its free text (it may quote values)."""
    items = body.get("errors") if isinstance(body, dict) else None
    out: list[dict[str, str]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            code = str(item.get("code", "invalid"))[:64]
            pointer = str(item.get("pointer", item.get("path", "")))[:200]
            out.append({"code": code, "pointer": pointer})
    return out[:50]


def describe_errors(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['pointer'] or '/'}: {e['code']}" for e in errors[:10]) or "причина не указана"
