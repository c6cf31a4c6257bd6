"""docs/porting-guide.md is what `rosetta guide` generates now, and it covers every concept
and every porting case (at least 40 documented differences)."""
import pytest

from shared import backends, guide
from shared.concepts import all_concepts


def test_every_concept_belongs_to_exactly_one_family():
    placed = [name for _, _, names in guide.FAMILIES for name in names]
    assert len(placed) == len(set(placed)), "a concept is in two families"
    assert set(placed) == {c.name for c in all_concepts()}


def test_every_family_has_its_notebook_name():
    for _, notebook, _ in guide.FAMILIES:
        assert notebook.endswith(".ipynb") and notebook[:2].isdigit()


@pytest.mark.parametrize("value, expected", [(0.0, "0"), (7.8e-15, "< 1e-14"), (1e-14, "< 1e-13"),
                                             (4.8e-7, "< 1e-6"), (float("inf"), "inf or nan")])
def test_a_fixed_ports_residue_is_shown_as_its_power_of_ten(value, expected):
    assert guide.fixed_figure(value) == expected


@pytest.mark.parametrize("value, expected", [(1.7312, "1.7"), (8.52e-10, "8.5e-10"), (0.6931, "0.69")])
def test_a_naive_ports_error_keeps_two_significant_digits(value, expected):
    assert guide.naive_figure(value) == expected


def test_the_committed_guide_is_up_to_date():
    absent = [name for name in ("torch", "tf") if not backends.installed(name)]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed: the guide measures cases in every framework")
    results = guide.run_cases()
    assert len(results) >= 40
    assert all(result.shown for result in results.values())
    committed = guide.DEFAULT_PATH.read_text()
    assert committed == guide.build(results), "docs/porting-guide.md is stale: run `rosetta guide` and commit it"
    for concept, case in results:
        assert f"### {concept}: {case}\n" in committed
