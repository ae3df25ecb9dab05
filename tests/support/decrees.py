"""The decrees beside the repository and each municipality's authorized body, for decree tests."""

from __future__ import annotations

from pathlib import Path

#: The five decrees (``../shared/seeds``); tests reading them skip when the folder is absent.
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"

#: The organisation each decree names as the authorized body (it. 2; Kirovsky it. 3; Omsk it. 2).
AUTHORITY = {
    "leninogorsk": "executive_committee", "luga": "administration", "livny": "administration",
    "kirovsky": "administration", "omsk": "education_department",
}  # fmt: skip
