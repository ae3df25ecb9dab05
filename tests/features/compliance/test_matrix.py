"""The compliance matrices are complete and true: every rule code mapped, every reference and test real.

A rule code is read from the source of the rule checks (:mod:`.codes`), so a new code nobody
mapped fails here with its name and where it is created.  Quotations are checked against the
decrees' texts when those are beside the repository.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from gateway.core.settings import Settings
from gateway.features.compliance.loader import (
    COMPLIANCE_DIR,
    GATEWAY_FILE,
    ComplianceError,
    gateway_checks,
    load,
    read_matrix,
)
from gateway.features.compliance.model import Matrix
from gateway.features.compliance.references import profile_ids
from gateway.municipalities import load_profiles
from tests.features.compliance.codes import REPO, SINKS, Scanner, collected_test_nodes, rule_codes

SEEDS = REPO.parent / "shared" / "seeds"
PROFILES = load_profiles(Settings().municipalities_dir)
MATRICES: dict[str, Matrix] = {p.stem: read_matrix(p) for p in sorted(COMPLIANCE_DIR.glob("*.yaml")) if p.name != GATEWAY_FILE}
HOW_TO_MAP = (
    "add {{kind: rule, id: {code}}} to enforced_by of the item it enforces in gateway/data/compliance/<municipality>.yaml "
    "(with the tests that prove it), or list it in gateway/data/compliance/_gateway.yaml with the reason the gateway "
    "checks it although no decree item asks for it"
)


def referenced(kind: str) -> dict[str, list[str]]:
    """Ids of ``kind`` named by the matrices → the items naming them (``luga it. 2``)."""
    out: dict[str, list[str]] = {}
    for municipality, matrix in MATRICES.items():
        for entry in matrix.items:
            for ref in entry.enforced_by:
                if ref.kind == kind:
                    out.setdefault(ref.id, []).append(f"{municipality} {entry.item}")
    return out


def test_every_municipality_has_a_matrix_that_matches_its_profile() -> None:
    assert sorted(MATRICES) == sorted(PROFILES)
    for municipality, profile in PROFILES.items():
        assert load(profile) == MATRICES[municipality]  # every reference to the profile resolves


def test_every_rule_code_in_the_code_has_an_entry() -> None:
    scan = rule_codes()
    assert not scan.unreadable, "codes the scan cannot read (use a literal or a module constant, or add them to " \
        "DYNAMIC in tests/features/compliance/codes.py): " + "; ".join(f"{s}: {e}" for s, e in scan.unreadable)  # fmt: skip
    mapped = set(referenced("rule")) | {c.rule for c in gateway_checks().checks}
    missing = sorted(set(scan.codes) - mapped)
    assert not missing, "rule codes without a compliance entry:\n" + "\n".join(
        f"- {code} (created at {', '.join(map(str, scan.codes[code]))}): " + HOW_TO_MAP.format(code=code) for code in missing
    )


def test_every_mapped_rule_code_exists_in_the_code() -> None:
    codes = set(rule_codes().codes)
    stale = {code: where for code, where in referenced("rule").items() if code not in codes}
    own = sorted(c.rule for c in gateway_checks().checks if c.rule not in codes)
    assert not stale and not own, f"no rule creates these codes any more: {stale} {own}"


def test_a_code_is_the_gateways_own_or_enforces_decree_items() -> None:
    both = {c.rule for c in gateway_checks().checks} & set(referenced("rule"))
    assert not both, f"listed in _gateway.yaml and named by decree items: {sorted(both)}"


def test_every_entry_names_its_tests_or_a_reason() -> None:
    for municipality, matrix in MATRICES.items():
        for entry in matrix.items:
            where = f"{municipality} {entry.item}"
            if entry.enforced_by:
                assert entry.tests, where
            else:
                assert entry.not_enforced and entry.not_enforced.strip(), where
    for check in gateway_checks().checks:
        assert check.reason.strip(), check.rule


def test_every_named_test_exists() -> None:
    nodes = collected_test_nodes()
    named = {(node.split("[", 1)[0], f"{m} {e.item}") for m, x in MATRICES.items() for e in x.items for node in e.tests}
    named |= {(node.split("[", 1)[0], f"_gateway {c.rule}") for c in gateway_checks().checks for node in c.tests}
    missing = sorted(f"{node} (named by {where})" for node, where in named if node not in nodes)
    assert not missing, "tests that do not exist:\n" + "\n".join(missing)


def test_every_warning_deadline_and_indicator_of_a_profile_is_mapped() -> None:
    """A new warning, deadline or indicator row of a profile needs the decree item it belongs to."""
    for municipality, profile in PROFILES.items():
        known = profile_ids(profile)
        named = {(r.kind, r.id) for e in MATRICES[municipality].items for r in e.enforced_by}
        for kind in ("warning", "deadline", "indicator"):
            unmapped = sorted(i for i in known[kind] if (kind, i) not in named)
            assert not unmapped, f"{municipality}: {kind} ids no item of gateway/data/compliance/{municipality}.yaml names: {unmapped}"


def test_a_reference_the_profile_lacks_stops_the_load_with_the_item(tmp_path: Path) -> None:
    raw = yaml.safe_load((COMPLIANCE_DIR / "omsk.yaml").read_text(encoding="utf-8"))
    raw["items"][0]["enforced_by"].append({"kind": "permission", "id": "social_order.publish"})
    raw["items"][1]["enforced_by"].append({"kind": "warning", "id": "no_such_warning"})
    (tmp_path / "omsk.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ComplianceError) as refused:
        load(PROFILES["omsk"], tmp_path)
    message = str(refused.value)
    assert "«it. 1»: permission:social_order.publish" in message and "«it. 2»: warning:no_such_warning" in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("tests"), "тесты"),
        (lambda e: (e.pop("enforced_by"), e.pop("tests")), "not_enforced"),
        (lambda e: e["tests"].append("tests/nowhere.py"), "pattern"),
        (lambda e: e["enforced_by"].append({"kind": "budget", "id": "x"}), "kind"),
    ],
)
def test_a_malformed_entry_is_refused_with_its_item(tmp_path: Path, change: object, message: str) -> None:
    raw = yaml.safe_load((COMPLIANCE_DIR / "luga.yaml").read_text(encoding="utf-8"))
    change(raw["items"][1])  # type: ignore[operator]
    (tmp_path / "luga.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ComplianceError) as refused:
        load(PROFILES["luga"], tmp_path)
    assert "luga.yaml" in str(refused.value) and "«it. 2»" in str(refused.value) and message in str(refused.value)


def _decree(seed_file: str | None) -> str:
    if seed_file is None or not (SEEDS / seed_file).exists():
        pytest.skip("тексты постановлений (../shared/seeds) не найдены рядом с репозиторием")
    return _plain((SEEDS / seed_file).read_text(encoding="utf-8"))


def _plain(text: str) -> str:
    """Text as compared: without the conversion's <p> tags and soft hyphens, whitespace collapsed."""
    return " ".join(re.sub(r"</?p>", " ", text).replace("\u00ad", "").split())


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_quotations_are_verbatim_from_the_decree(municipality: str) -> None:
    """Each piece of an entry's text between «…» is the decree's own words (page breaks are cut with «…»)."""
    matrix = MATRICES[municipality]
    assert matrix.seed_file == PROFILES[municipality].decree.seed_file
    text = _decree(matrix.seed_file)
    wrong = [
        f"{entry.item}: {piece[:80]}"
        for entry in matrix.items
        for piece in (_plain(p).strip(" ,;.—") for p in entry.text.split("…"))
        if piece and piece not in text
    ]
    assert not wrong, "not in the decree's text:\n" + "\n".join(wrong)


def test_the_scan_reads_codes_however_they_are_made(tmp_path: Path) -> None:
    """Literals, constants, conditionals, loop tables and pass-through parameters; the rest is reported."""
    source = tmp_path / "rules.py"
    source.write_text(textwrap.dedent('''
        from gateway.documents.text import CODE as IMPORTED
        LOCAL = "from_a_constant"

        class Result:
            def refuse(self, code, pointer, detail):
                self.out.append(Violation(code, pointer, detail))

        def check(result, flag, unknown):
            result.refuse("a_literal", "", "")
            result.refuse(LOCAL, "", "")
            result.refuse(IMPORTED, "", "")
            Notice("one" if flag else "other", "", "")
            for field, code in (("a", "from_a_table"), ("b", "and_another")):
                result.refuse(code, field, "")
            Violation(code=unknown.code, pointer="", detail="")
    '''), encoding="utf-8")  # fmt: skip
    found = Scanner([source], SINKS).run()
    assert set(found.codes) == {"a_literal", "from_a_constant", "character_not_allowed", "one", "other",
                                "from_a_table", "and_another"}  # fmt: skip
    assert [expr for _, expr in found.unreadable] == ["unknown.code"]
    assert ast.parse(source.read_text(encoding="utf-8"))  # the sample itself is valid Python
