"""Text scorers: normalised edit similarity, word F1 and olmOCR-bench style rules.

All functions are pure (strings in, numbers out). The edit distance runs row by row with
numpy, so a whole page (a few thousand characters each side) costs milliseconds instead
of the seconds a pure-Python dynamic programme would.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from pdf_assets.evaluation.groundtruth import TextRule

_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]")
_DOUBLE_QUOTES = re.compile("[\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033]")
_SINGLE_QUOTES = re.compile("[\u2018\u2019\u201a\u201b\u2032`]")
_MARKUP = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|<br\s*/?>", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The olmOCR-bench normalisation (MANIFEST section 8): Unicode NFC, every dash variant to
    '-', quote variants to '"' and "'", Markdown bold/italic and <br> removed; then runs of
    whitespace collapse to one space (line breaks are layout, not content)."""
    text = unicodedata.normalize("NFC", text)
    text = _DASHES.sub("-", text)
    text = _DOUBLE_QUOTES.sub('"', text)
    text = _SINGLE_QUOTES.sub("'", text)
    text = _MARKUP.sub("", text)
    return _SPACE.sub(" ", text).strip()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (unit insert, delete, substitute)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    if len(b) < 64:
        return _levenshtein_short(a, b)
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1, dtype=np.int64)
    row = steps.copy()
    for i, ch in enumerate(a, start=1):
        cost = (codes_b != ord(ch)).astype(np.int64)
        new = np.empty_like(row)
        new[0] = i
        new[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        # insertions chain left to right: new[j] = min over k<=j of new'[k] + (j - k)
        row = np.minimum.accumulate(new - steps) + steps
    return int(row[-1])


def _levenshtein_short(a: str, b: str) -> int:
    """The plain dynamic programme: faster than numpy's per-row overhead for short strings."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def edit_similarity(truth: str, predicted: str) -> float:
    """1 - distance / longer length, on normalised text; 1.0 when both are empty."""
    a, b = normalize(truth), normalize(predicted)
    longest = max(len(a), len(b))
    return 1.0 - levenshtein(a, b) / longest if longest else 1.0


def paged_edit_similarity(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Edit similarity of a document page by page, pooled: 1 - sum(distance) / sum(longer).

    Pages are aligned by number, so text that lands on the right page in the wrong order
    still costs, while the cost stays linear in the number of pages.
    """
    return _pooled_similarity(truth, predicted, normalize)


def _pooled_similarity(truth: Sequence[str], predicted: Sequence[str], encode: Callable[[str], str]) -> float:
    """1 - sum(distance) / sum(longer length) over pages aligned by number, each page's text
    encoded first (normalised characters, or one code point per word)."""
    total = distance = 0
    for i in range(max(len(truth), len(predicted))):
        a = encode(truth[i]) if i < len(truth) else ""
        b = encode(predicted[i]) if i < len(predicted) else ""
        total += max(len(a), len(b))
        distance += levenshtein(a, b)
    return 1.0 - distance / total if total else 1.0


def words(text: str) -> list[str]:
    """Case-folded word tokens of normalised text (punctuation splits words)."""
    return re.findall(r"\w+", normalize(text).casefold())


def word_f1(truth: str, predicted: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the predicted words against the truth, as multisets."""
    t, p = Counter(words(truth)), Counter(words(predicted))
    hits = sum((t & p).values())
    precision = hits / sum(p.values()) if p else (1.0 if not t else 0.0)
    recall = hits / sum(t.values()) if t else (1.0 if not p else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def word_order_similarity(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Word-level edit similarity pooled over pages: 1 - word edits / longer word count.

    Unlike word F1 it sees reading order: the same words in another order cost edits.
    Each distinct word becomes one code point so the character edit distance can run on it.
    """
    codes: dict[str, str] = {}

    def encode(text: str) -> str:
        return "".join(codes.setdefault(w, chr(0xF0000 + len(codes))) for w in words(text))

    return _pooled_similarity(truth, predicted, encode)


def fuzzy_find(needle: str, haystack: str, max_diffs: int) -> int:
    """Start of the first occurrence of `needle` in `haystack` within `max_diffs` edits, else -1.

    Exact search when `max_diffs` is 0; otherwise the approximate-substring dynamic
    programme (Sellers), whose first row is all zeros so a match may start anywhere.
    """
    if max_diffs <= 0 or not needle:
        return haystack.find(needle)
    n = len(needle)
    col = list(range(n + 1))
    for j, ch in enumerate(haystack):
        prev_diag, col[0] = col[0], 0
        for i in range(1, n + 1):
            cur = min(col[i] + 1, col[i - 1] + 1, prev_diag + (needle[i - 1] != ch))
            prev_diag, col[i] = col[i], cur
        if col[n] <= max_diffs:
            return max(0, j + 1 - n)
    return -1


def rule_passes(rule: TextRule, page_text: str) -> bool:
    """One olmOCR-bench `present`, `absent` or `order` rule against a page's text."""
    text = normalize(page_text)
    if rule.first_n:
        text = text[: rule.first_n]
    if rule.last_n:
        text = text[-rule.last_n :]

    def fold(s: str) -> str:
        s = normalize(s)
        return s if rule.case_sensitive else s.casefold()

    text = text if rule.case_sensitive else text.casefold()
    if rule.type == "present":
        return fuzzy_find(fold(rule.text), text, rule.max_diffs) >= 0
    if rule.type == "absent":
        return fuzzy_find(fold(rule.text), text, rule.max_diffs) < 0
    if rule.type == "order":
        before = fuzzy_find(fold(rule.before), text, rule.max_diffs)
        after = fuzzy_find(fold(rule.after), text, rule.max_diffs)
        return before >= 0 and after >= 0 and before < after
    raise ValueError(f"unsupported olmOCR rule type {rule.type!r} (supported: present, absent, order)")
