"""Text scorers on small hand-made strings."""

from __future__ import annotations

import pytest

from pdf_assets.evaluation.groundtruth import TextRule
from pdf_assets.evaluation.text import (
    _levenshtein_short,
    edit_similarity,
    fuzzy_find,
    levenshtein,
    normalize,
    paged_edit_similarity,
    rule_passes,
    word_f1,
    word_order_similarity,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "abc", 0), ("flaw", "lawn", 2)],
)
def test_levenshtein_short(a: str, b: str, expected: int) -> None:
    assert levenshtein(a, b) == expected


def test_levenshtein_long_path_agrees_with_short_path() -> None:
    a = "the quick brown fox jumps over the lazy dog " * 3
    b = a.replace("quick", "quack").replace("lazy ", "") + "!"
    # both sides >= 64 characters take the numpy path; the same pair cut short takes the other
    assert len(b) >= 64
    # three one-letter substitutions, three 5-letter deletions, one insertion
    assert levenshtein(a, b) == _levenshtein_short(a, b) == 3 + 15 + 1


def test_normalize_unifies_dashes_quotes_markup_and_whitespace() -> None:
    assert normalize("\u201cHello\u201d\u2014it\u2019s **bold**<br>\n\n  done") == '"Hello"-it\'s bold done'


def test_edit_similarity() -> None:
    assert edit_similarity("abcd", "abcd") == 1.0
    assert edit_similarity("abcd", "abce") == pytest.approx(0.75)
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("abcd", "") == 0.0


def test_paged_similarity_pools_distances_over_pages() -> None:
    # page 1 perfect (4 chars), page 2 has one error in 4 characters, page 3 missing (2 chars)
    assert paged_edit_similarity(["abcd", "wxyz", "ok"], ["abcd", "wxyq"]) == pytest.approx(1 - 3 / 10)


def test_word_f1_counts_multisets_case_insensitively() -> None:
    precision, recall, f1 = word_f1("the cat the hat", "The cat sat")
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 4)
    assert f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert word_f1("", "") == (1.0, 1.0, 1.0)
    assert word_f1("a", "")[2] == 0.0


def test_fuzzy_find() -> None:
    assert fuzzy_find("fox", "the fox", 0) == 4
    assert fuzzy_find("fax", "the fox", 0) == -1
    assert fuzzy_find("fax", "the fox", 1) >= 0
    assert fuzzy_find("faxes", "the fox", 1) == -1


def _rule(kind: str, **kw: object) -> TextRule:
    return TextRule(rule_id="r", page=0, type=kind, **kw)  # type: ignore[arg-type]


def test_olmocr_rules() -> None:
    page = "January 10th 1864.\nMajor General Hitchcock is “authorized”"
    assert rule_passes(_rule("present", text="January 10th 1864."), page)
    assert rule_passes(_rule("present", text='is "authorized"'), page)
    assert not rule_passes(_rule("present", text="january 10th 1864."), page)
    assert rule_passes(_rule("present", text="january 10th 1864.", case_sensitive=False), page)
    assert rule_passes(_rule("present", text="Janvary 10th 1864.", max_diffs=1), page)
    assert not rule_passes(_rule("absent", text="Hitchcock"), page)
    assert rule_passes(_rule("order", before="January", after="Hitchcock"), page)
    assert not rule_passes(_rule("order", before="Hitchcock", after="January"), page)
    assert not rule_passes(_rule("present", text="Hitchcock", first_n=10), page)
    with pytest.raises(ValueError, match="unsupported"):
        rule_passes(_rule("math"), page)


def test_word_order_similarity_sees_order_that_word_f1_does_not() -> None:
    truth, swapped = ["alpha beta gamma delta"], ["gamma delta alpha beta"]
    assert word_f1(truth[0], swapped[0])[2] == 1.0
    assert word_order_similarity(truth, swapped) == pytest.approx(0.0)  # every position differs
    assert word_order_similarity(truth, ["alpha beta gamma"]) == pytest.approx(3 / 4)
    assert word_order_similarity(["a b", "c"], ["a b", ""]) == pytest.approx(2 / 3)
