"""Telling a garbled text layer from real text, without a dictionary.

A font with a custom encoding and no usable ToUnicode map extracts as the wrong
characters: IBM's redp5110 "Highlights" box reads "]üìÜüéê •ìê °ê£ë†£ûÜüéê". The result is
still letters, so a check for U+FFFD or private-use glyphs passes it. Two word shapes give
it away, and neither occurs in real prose, code or numbers:

- a word made almost only of accented Latin letters ("èÜ•ÜáÜ§ê", "§ñîóó§"): French and
  German put one or two accents in a word ("préféré", "Grüße"), never four of five letters;
- a non-ASCII symbol glued between letters ("°ê£ë†£û", UTF-8 read as Latin-1 "Ã©tÃ©"):
  real text has bullets, daggers and degree signs between words or after digits, and code
  uses ASCII operators.

A text is garbled when a good share of its words has one of these shapes; a stray word
(a name, a symbol in a formula) never tips it.
"""

from __future__ import annotations

import unicodedata

# Below this many words the share is noise: a short label is judged by its own words only
# when at least this many of them are implausible.
MIN_BAD_WORDS = 2
# Share of words with an implausible shape from which a text is garbled.
GARBLED_WORD_SHARE = 0.3
# A word of at least this many letters with at least this share accented is implausible.
MIN_ACCENT_WORD_LETTERS = 4
ACCENT_WORD_SHARE = 0.75


def is_accented_latin(ch: str) -> bool:
    """A Latin letter carrying a diacritic (é, ü, Ã), by its canonical decomposition."""
    if not ch.isalpha() or ord(ch) < 0xC0 or ord(ch) > 0x24F:
        return False
    decomposed = unicodedata.normalize("NFD", ch)
    return len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:])


# Punctuation that real words do contain: middle dots (Catalan "l·l"), primes, ellipses.
_WORD_PUNCTUATION = frozenset("\u00b7\u2027\u2032\u2033\u2026\u30fb")


def is_foreign_symbol(ch: str) -> bool:
    """A non-ASCII symbol or loose punctuation mark (•, †, £, §, ©, ∞): fine between words,
    implausible inside one. Dashes, quotes and brackets (category Pd, Pi, Pf, Ps, Pe: "we\u2019re",
    "exceed—your") and CJK punctuation are not counted: words do join on them."""
    code = ord(ch)
    if code < 0x80 or ch.isalnum() or ch.isspace() or ch in _WORD_PUNCTUATION:
        return False
    if 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF:
        return False
    category = unicodedata.category(ch)
    return category[0] == "S" or category == "Po"


def _accent_heavy(letters: list[str]) -> bool:
    if len(letters) < MIN_ACCENT_WORD_LETTERS:
        return False
    accented = sum(1 for ch in letters if is_accented_latin(ch))
    return accented / len(letters) >= ACCENT_WORD_SHARE


def _symbol_inside(word: str) -> bool:
    """A foreign symbol with a letter somewhere on each side of it within the word."""
    alpha = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(alpha) < 2:
        return False
    return any(is_foreign_symbol(word[i]) for i in range(alpha[0] + 1, alpha[-1]))


def implausible_word(word: str) -> bool:
    """A word no real language or code spells this way (see the module docstring)."""
    letters = [ch for ch in word if ch.isalpha()]
    return _accent_heavy(letters) or _symbol_inside(word)


def garbled_share(text: str) -> float:
    """Share of the words (whitespace-separated tokens with a letter) that are implausible."""
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if not words:
        return 0.0
    return sum(1 for w in words if implausible_word(w)) / len(words)


def looks_garbled(text: str) -> bool:
    """Whether `text` reads like a wrongly decoded font rather than a language."""
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    bad = sum(1 for w in words if implausible_word(w))
    return bad >= MIN_BAD_WORDS and bad / len(words) >= GARBLED_WORD_SHARE
