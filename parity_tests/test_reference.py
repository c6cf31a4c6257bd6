"""docs/families/ has one page per concept family, and the part of each page that repeats the
specs is the one they give now (`rosetta guide` rewrites it, keeping the prose above it)."""
from rosetta import reference
from shared.concepts import all_concepts, by_family


def test_one_page_per_family_and_no_other():
    assert {p.name for p in reference.FAMILIES_DIR.glob("*.md")} == {p.name for p in reference.pages()}
    assert len(reference.pages()) == len(list(by_family()))


def test_the_spec_part_of_every_page_is_current():
    assert not reference.stale(), "run `rosetta guide` and commit docs/families/"


def test_every_concept_has_its_section_once():
    text = "".join(p.read_text() for p in reference.FAMILIES_DIR.glob("*.md"))
    for concept in all_concepts():
        assert text.count(f"\n### {concept.name}\n") == 1, concept.name


def test_the_prose_is_kept_when_a_page_is_regenerated(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "FAMILIES_DIR", tmp_path)
    page = tmp_path / reference.page_name(1, next(iter(by_family()))[0])
    page.write_text("# mine\n\nwritten by hand\n" + reference.MARKER + "\nold generated part\n")
    changed = reference.write_pages()
    assert page in changed and page.read_text().startswith("# mine\n\nwritten by hand\n")
    assert "old generated part" not in page.read_text() and not reference.stale()
