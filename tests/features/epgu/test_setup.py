"""Where an application's OKTMO leads, and the SMEV client of the embedded default (no configuration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.gosuslugi import mapping
from adapters.gosuslugi.faults import SmevSignatureError
from emulators import runner
from gateway.app.demo_pki import ensure_demo_pki
from gateway.core.keyring import KeyRing
from gateway.core.settings import Settings
from gateway.features.epgu import oktmo
from gateway.features.epgu.cli import sample_applications
from gateway.municipalities import load_profiles
from gateway.systems.smev import SmevSetupError, build_client, embedded_emulator

PROFILES = load_profiles(Settings().municipalities_dir)


def test_every_municipality_has_its_own_oktmo_and_resolves_to_itself() -> None:
    codes = {p.id: p.oktmo for p in PROFILES.values()}
    assert None not in codes.values() and len(set(codes.values())) == len(codes)
    for profile in PROFILES.values():
        assert profile.oktmo is not None
        assert oktmo.resolve(PROFILES.values(), profile.oktmo) is profile
        assert oktmo.resolve(PROFILES.values(), profile.oktmo + "001") is profile  # a populated place, 11 digits


@given(st.integers(0, 999), st.integers(0, 999))
def test_a_settlement_of_a_district_resolves_to_the_district(settlement: int, place: int) -> None:
    luga = PROFILES["luga"]
    assert luga.oktmo == "41633000"
    assert oktmo.resolve(PROFILES.values(), f"41633{settlement:03d}") is luga
    assert oktmo.resolve(PROFILES.values(), f"41633{settlement:03d}{place:03d}") is luga


@given(st.from_regex(r"\d{8}", fullmatch=True))
def test_a_code_outside_every_municipality_is_never_guessed(code: str) -> None:
    found = oktmo.resolve(PROFILES.values(), code)
    if code[:5] not in {p.oktmo[:5] for p in PROFILES.values() if p.oktmo}:
        assert found is None
    else:
        assert found is not None and found.oktmo is not None and found.oktmo[:5] == code[:5]


def test_malformed_and_ambiguous_codes_resolve_to_nothing() -> None:
    assert oktmo.resolve(PROFILES.values(), "4163300") is None
    assert oktmo.resolve(PROFILES.values(), "4163300a") is None
    assert oktmo.resolve(PROFILES.values(), "416330001") is None  # 9 digits
    twin = PROFILES["omsk"].model_copy(update={"id": "omsk_twin"})
    assert oktmo.resolve([PROFILES["omsk"], twin], "52701000") is None  # two profiles claim it: refused, not guessed
    district = PROFILES["luga"]
    town = district.model_copy(update={"id": "luga_town", "oktmo": "41633101"})
    assert oktmo.resolve([district, town], "41633101") is town and oktmo.resolve([district, town], "41633102") is district


def test_the_profile_refuses_a_malformed_oktmo() -> None:
    from pydantic import ValidationError

    from gateway.municipalities.profile import Profile

    raw = PROFILES["livny"].model_dump(mode="json")
    with pytest.raises(ValidationError, match="oktmo"):
        Profile.model_validate({**raw, "oktmo": "5470500"})


async def test_the_embedded_default_builds_the_client_from_the_demo_pki(tmp_path: Path) -> None:
    """No SMEV settings at all: the gateway IS key from the demo key registry, the emulator's CA from the emulator."""
    settings = Settings(data_dir=tmp_path / "var")
    assert ensure_demo_pki(settings) is not None and settings.smev.key_file is None
    pki = settings.effective_pki_dir
    running = await runner.start(runner.RunConfig(ports={"smev": 0}, trust=pki / "ca.pem"), ["smev"])
    try:
        from emulators.smev3 import SMEV

        running[0].app[SMEV].inject("1.3", sample_applications(PROFILES["luga"], 2), 2)
        keys = KeyRing(settings.effective_keys_file, pki)
        production = Settings(data_dir=tmp_path / "var", run_emulators=False, smev={"url": running[0].url})
        assert embedded_emulator(production) is None  # outside the demo the emulator's CA is never fetched
        client = await build_client(production, keys)
        try:
            with pytest.raises(SmevSignatureError):  # SMEV's signature chains to nothing we trust
                await client.get_request(mapping.selector())
        finally:
            await client.close()
        settings = Settings(data_dir=tmp_path / "var", smev={"url": running[0].url})
        assert embedded_emulator(settings) == running[0].url.rsplit("/", 2)[0]
        client = await build_client(settings, keys)
        try:
            request = await client.get_request(mapping.selector())  # signed by us, answered and verified
            assert request is not None and request.sender_signature is not None and request.sender_signature.ok
        finally:
            await client.close()
    finally:
        await runner.stop(running)


async def test_no_key_means_no_client(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", run_emulators=False)
    with pytest.raises(SmevSetupError) as caught:
        await build_client(settings, KeyRing(settings.effective_keys_file, settings.effective_pki_dir))
    assert caught.value.code == "smev_key_missing"
