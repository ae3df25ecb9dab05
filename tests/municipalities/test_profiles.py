"""Municipality profiles are data: five seeds load, names are verbatim, a sixth is one file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.core.settings import Settings
from gateway.municipalities import ProfileError, load_profiles
from tests.support.decrees import SEEDS


def decree_text(seed_file: str | None) -> str:
    """The decree's text beside the repository; the test is skipped where it is not there."""
    if seed_file is None or not (SEEDS / seed_file).exists():
        pytest.skip("тексты постановлений (../shared/seeds) не найдены рядом с репозиторием")
    return (SEEDS / seed_file).read_text(encoding="utf-8")
PROFILES = load_profiles(Settings().municipalities_dir)
CORRECT_EPGU = "федеральная государственная информационная система «Единый портал государственных и муниципальных услуг (функций)»"


def test_the_five_seed_municipalities() -> None:
    assert sorted(PROFILES) == ["kirovsky", "leninogorsk", "livny", "luga", "omsk"]


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_system_names_are_verbatim_from_the_decree(municipality: str) -> None:
    profile = PROFILES[municipality]
    text = " ".join(decree_text(profile.decree.seed_file).split())
    for system, names in profile.systems.items():
        assert names.decree_text.split(" (далее")[0] in text, (municipality, system)


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_outgoing_epgu_name_is_the_correct_legal_name(municipality: str) -> None:
    epgu = PROFILES[municipality].systems["epgu"]
    assert epgu.name == CORRECT_EPGU
    assert epgu.decree_typo == ("муниципальных и муниципальных" in epgu.decree_text)


def test_typo_decrees_are_flagged() -> None:
    typos = {m for m, p in PROFILES.items() if p.systems["epgu"].decree_typo}
    assert typos == {"leninogorsk", "livny", "omsk"}


def test_excluded_names_appear_in_the_decree() -> None:
    for profile in PROFILES.values():
        text = decree_text(profile.decree.seed_file)
        for name in profile.excluded_special_names:
            assert f"«{name}»" in text, (profile.id, name)


def test_service_codes_appear_in_the_decree() -> None:
    for profile in PROFILES.values():
        text = decree_text(profile.decree.seed_file)
        for service in profile.services:
            assert service.code in text, (profile.id, service.code)


def test_a_sixth_municipality_is_one_file(tmp_path: Path) -> None:
    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    text = (directory / "luga.yaml").read_text(encoding="utf-8").replace("id: luga", "id: gatchina")
    (directory / "gatchina.yaml").write_text(text, encoding="utf-8")
    profiles = load_profiles(directory)
    assert "gatchina" in profiles and profiles["gatchina"].services == profiles["luga"].services


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("804200О.99.0.ББ52АЕ04000", "804200O.99.0.ББ52АЕ04000"), "not canonical"),
        (("roles: [finance_department]", "roles: [treasurer]"), "roles"),
        (("orgs: [administration, cbuk]}], source", "orgs: [administration, nobody]}], source"), "unknown organisation"),
    ],
)
def test_a_broken_profile_stops_loading_with_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    path = directory / "luga.yaml"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        load_profiles(directory)


def test_file_name_must_match_id(tmp_path: Path) -> None:
    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    shutil.copy(directory / "luga.yaml", directory / "other.yaml")
    with pytest.raises(ProfileError, match="file name"):
        load_profiles(directory)
