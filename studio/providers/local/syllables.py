"""Syllable estimates from spelling, for readability formulas. No dictionary: rules that are
right for most words and off by one for some ("created" counts 2, not 3). Readability
scores average over many words, so such errors mostly cancel out.

- English: vowel groups (a e i o u y), minus a silent final "e" ("make"), a silent "-es"
  and "-ed" ("makes", "played"), but not "-le" after a consonant ("table") or "-ted"/"-ded".
- Cyrillic: one syllable per vowel letter (Russian "Рос-си-и" has three).
- Other Latin-script languages: vowel groups, accented vowels included
  (diphthongs like German "ei" or French "ou" are one group). Spanish and Italian split two
  strong vowels ("le-er", "dí-a"), which are two syllables there.
- Chinese: one syllable per Han character. Other scripts (Japanese kanji and kana
  included): unknown (None).
"""

from __future__ import annotations

import re

from studio.providers.local.languages import base_code

_LATIN_VOWELS = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ"
_CYRILLIC_VOWELS = "аеёиоуыэюяіїєў"
_VOWEL_GROUP = re.compile(f"[{_LATIN_VOWELS}]+")
_CYRILLIC_VOWEL = re.compile(f"[{_CYRILLIC_VOWELS}]")
_ENGLISH_GROUP = re.compile("[aeiouy]+")
_STRONG = set("aeoáéóíú")  # Spanish/Italian vowels that do not merge with one another
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_OR_CYRILLIC = re.compile(f"[a-zß-ÿœæ\u0400-\u04ff{_LATIN_VOWELS}]")


def english(word: str) -> int:
    w = re.sub("[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    if w.endswith("es") and not re.search("(?:[sxzcg]|ch|sh)es$", w):
        w = w[:-1]  # "makes" → "make"; "boxes", "changes" keep their syllable
    elif w.endswith("ed") and not w.endswith(("ted", "ded")):
        w = w[:-2]  # "played" → "play"
    if w.endswith("e") and not w.endswith(("ee", "ye")) and not re.search("[^aeiouy]le$", w):
        w = w[:-1]  # silent e
    return max(1, len(_ENGLISH_GROUP.findall(w)))


def generic(word: str, *, split_strong: bool = False) -> int:
    w = word.lower()
    cyrillic = len(_CYRILLIC_VOWEL.findall(w))
    if cyrillic:
        return cyrillic
    groups = _VOWEL_GROUP.findall(w)
    count = len(groups)
    if split_strong:
        for g in groups:
            count += sum(1 for a, b in zip(g, g[1:]) if a in _STRONG and b in _STRONG)
    return max(1, count)


def count(word: str, language: str) -> int | None:
    """Syllables of one word in `language`, or None where spelling says nothing."""
    code = base_code(language)
    if _HAN.match(word):
        return len(_HAN.findall(word)) if code == "zh" else None
    if not _LATIN_OR_CYRILLIC.search(word.lower()):
        return None if not word.isdigit() else max(1, len(word))
    if code == "en":
        return english(word)
    return generic(word, split_strong=code in ("es", "it"))
