"""The process context hands the key settings to its key ring (token and revocation settings included)."""

from __future__ import annotations

from pathlib import Path

from gateway.context import Context
from gateway.core.settings import Settings


async def test_the_key_ring_gets_the_token_and_revocation_settings(tmp_path: Path) -> None:
    module = tmp_path / "libtoken.so"
    settings = Settings(data_dir=tmp_path, keys={"pkcs11_module": module, "pkcs11_token_label": "шлюз"},
                        revocation={"policy": "soft"})  # fmt: skip
    ctx = await Context.open(settings, migrate=False)
    try:
        assert ctx.keys.pkcs11.pkcs11_module == module and ctx.keys.pkcs11.pkcs11_token_label == "шлюз"
        assert ctx.keys.revocation.policy == "soft"
    finally:
        await ctx.close()
