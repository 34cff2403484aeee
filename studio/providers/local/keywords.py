"""Keyword extraction with YAKE (unsupervised: word position, frequency, casing, spread
over sentences and context variety; no training corpus, no download).

The language picks YAKE's stopword list; it comes from the input or params, else it is
detected. YAKE needs spaces between words, so Chinese and Japanese get a small method of
their own: repeated character sequences of 2–4 characters for Chinese, and runs of kanji and
katakana between the kana particles for Japanese, the longest form kept when a shorter one only occurs inside it.
A phrase that contains a better-ranked one, or sits inside it, is dropped. Scores follow
YAKE's convention everywhere: lower means more relevant.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from studio.providers.local.base import LocalModel, language_choice, require_text
from studio.providers.local.language import detect_code
from studio.providers.local.languages import base_code
from studio.providers.local.stopwords import stopwords, yake_code

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KATAKANA = "\u30a0-\u30ff"
_HIRAGANA = "\u3040-\u309f"
_ZH_RUN = re.compile(f"[{_HAN}]+")
_JA_RUN = re.compile(f"[{_HAN}{_KATAKANA}ー]+")
_CJK = re.compile(f"[{_HAN}{_KATAKANA}{_HIRAGANA}]")
# Grammatical characters a Chinese term does not start or end with.
_ZH_PARTICLES = frozenset("的了是在和与也就都而及着把被这那个一之为吗呢吧啊")


def _yake_keywords(text: str, language: str, top: int, max_words: int) -> list[tuple[str, float]]:
    import yake

    code = yake_code(language)
    # YAKE falls back to reading its own list when given an empty set, and reads "noLang"
    # as Norwegian ("no"); a set holding only the empty string means "no stopwords".
    words = set(stopwords(language)) or {""}
    # Ask for more than wanted: overlapping phrases are dropped below.
    extractor = yake.KeywordExtractor(lan=code or "en", n=max_words, top=top * 4, stopwords=words)
    found = [(kw, float(score)) for kw, score in extractor.extract_keywords(text)]
    return _without_overlaps(found)[:top]


def _contains(longer: list[str], shorter: list[str]) -> bool:
    n = len(shorter)
    return any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _without_overlaps(found: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Keep a phrase only if it neither contains nor sits inside a better one: YAKE returns
    "solar panels", "solar" and "solar panels convert" side by side, which says one thing
    three times. (YAKE's own dedup compares spelling, and lets these through.)"""
    kept: list[tuple[str, float]] = []
    kept_words: list[list[str]] = []
    for keyword, score in found:
        w = keyword.lower().split()
        if any(_contains(k, w) or _contains(w, k) for k in kept_words):
            continue
        kept.append((keyword, score))
        kept_words.append(w)
    return kept


def _cjk_keywords(text: str, language: str, top: int, max_chars: int) -> list[tuple[str, float]]:
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    japanese = base_code(language) == "ja"
    if japanese:
        for m in _JA_RUN.finditer(text):
            if len(m.group()) >= 2:
                counts[m.group()] += 1
                first_seen.setdefault(m.group(), m.start())
    else:
        for m in _ZH_RUN.finditer(text):
            run = m.group()
            for n in range(2, max_chars + 1):
                for i in range(len(run) - n + 1):
                    gram = run[i:i + n]
                    if gram[0] in _ZH_PARTICLES or gram[-1] in _ZH_PARTICLES:
                        continue
                    counts[gram] += 1
                    first_seen.setdefault(gram, m.start() + i)
    # A kanji/katakana run is a content word even once; a Chinese n-gram seen once is noise.
    min_count = 1 if japanese else 2
    repeated = {g: c for g, c in counts.items() if c >= min_count}
    kept = [
        g for g, c in repeated.items()
        if not any(len(o) > len(g) and g in o and repeated[o] == c for o in repeated)
    ]
    kept.sort(key=lambda g: (-repeated[g], -len(g), first_seen[g]))
    return [(g, 1.0 / repeated[g]) for g in kept[:top]]


def _uses_cjk_method(text: str, language: str) -> bool:
    if base_code(language) in ("zh", "ja"):
        return True
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if _CJK.match(c)) > len(letters) / 2


class YakeKeywords(LocalModel):
    name = "yake-keywords"
    description = (
        "Key words and phrases of a text with YAKE (statistical, unsupervised), with stopword "
        "lists for 34 languages; the language is given or detected. Chinese and Japanese use "
        "character sequences instead. Lower score = more relevant."
    )

    PARAMS = {"top": (int, 10, 1, 100), "maxWords": (int, 3, 1, 5)}

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        text = require_text(input)
        top = self.param(params, "top")
        max_words = self.param(params, "maxWords")
        language = language_choice(input, params) or detect_code(text)
        if _uses_cjk_method(text, language):
            method = "cjk-ngrams"
            found = _cjk_keywords(text, language, top, max_chars=4)
        else:
            method = "yake"
            found = _yake_keywords(text, language, top, max_words) if text.strip() else []
        keywords = [{"keyword": kw, "score": round(score, 6)} for kw, score in found]
        return {
            "keywords": keywords,
            "text": ", ".join(k["keyword"] for k in keywords),
            "language": language,
            "method": method,
        }
