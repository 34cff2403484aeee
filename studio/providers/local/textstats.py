"""Text statistics and readability: counts, averages, a reading-ease score and a reading time.

Reading ease uses the formula made for the text's language, all on Flesch's 0–100 scale
(higher is easier): Flesch (1948) for English, Amstad (1978) for German, Kandel & Moles
(1958) for French, Fernández Huerta (1959, as corrected) for Spanish, Flesch–Vacca (1972)
for Italian and Douma (1960) for Dutch. The Flesch–Kincaid grade is computed for English
only; other languages get null rather than a number that would not mean a school grade.

Reading time assumes 238 words a minute (Brysbaert 2019, silent reading of non-fiction)
and, for Chinese and Japanese characters, 255 characters a minute (Trauzettel-Klosinski et
al. 2012); both can be changed with params.
"""

from __future__ import annotations

import math
import re
from typing import Any

from studio.providers.local import syllables as syl
from studio.providers.local.base import LocalModel, language_choice, require_text
from studio.providers.local.language import detect_code
from studio.providers.local.languages import base_code, name_of
from studio.providers.local.textsplit import is_cjk, split_sentences, words

# language → (formula name, f(average sentence length, average syllables per word))
READING_EASE = {
    "en": ("Flesch", lambda asl, asw: 206.835 - 1.015 * asl - 84.6 * asw),
    "de": ("Amstad", lambda asl, asw: 180 - asl - 58.5 * asw),
    "fr": ("Kandel-Moles", lambda asl, asw: 207 - 1.015 * asl - 73.6 * asw),
    "es": ("Fernandez-Huerta", lambda asl, asw: 206.84 - 1.02 * asl - 60 * asw),
    "it": ("Flesch-Vacca", lambda asl, asw: 206 - asl - 65 * asw),
    "nl": ("Douma", lambda asl, asw: 206.835 - 0.93 * asl - 77 * asw),
}

LEVELS = [
    (90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "standard"),
    (50, "fairly difficult"), (30, "difficult"), (-math.inf, "very difficult"),
]

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def level(score: float) -> str:
    return next(name for floor, name in LEVELS if score >= floor)


def flesch_kincaid_grade(asl: float, asw: float) -> float:
    return 0.39 * asl + 11.8 * asw - 15.59


def _duration(seconds: int) -> str:
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} min"


class TextStatistics(LocalModel):
    name = "text-stats"
    description = (
        "Counts (characters, words, sentences, paragraphs, syllables), averages, reading "
        "time and a reading-ease score with the formula made for the language (English, "
        "German, French, Spanish, Italian, Dutch); Flesch-Kincaid grade for English. "
        "Syllables are estimated from spelling."
    )

    PARAMS = {"wordsPerMinute": (float, 238, 20, 2000), "charactersPerMinute": (float, 255, 20, 5000)}

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        text = require_text(input)
        wpm = self.param(params, "wordsPerMinute")
        cpm = self.param(params, "charactersPerMinute")
        language = language_choice(input, params) or detect_code(text)

        tokens = words(text)
        cjk_units = sum(1 for t in tokens if is_cjk(t))
        sentences = len(split_sentences(text, language))
        paragraphs = sum(1 for p in _PARAGRAPHS.split(text) if p.strip())

        known = [n for n in (syl.count(t, language) for t in tokens) if n is not None]
        syllables = sum(known) if known else None

        n_words = len(tokens)
        asl = n_words / sentences if sentences else 0.0
        asw = syllables / len(known) if known else None
        letters = sum(1 for t in tokens for c in t if c.isalpha())

        formula = READING_EASE.get(base_code(language))
        ease = grade = None
        if formula and asw is not None and n_words:
            ease = round(formula[1](asl, asw), 1)
            if base_code(language) == "en":
                grade = round(flesch_kincaid_grade(asl, asw), 1)

        seconds = round(((n_words - cjk_units) / wpm + cjk_units / cpm) * 60)
        out: dict[str, Any] = {
            "characters": len(text),
            "charactersNoSpaces": sum(1 for c in text if not c.isspace()),
            "letters": letters,
            "words": n_words,
            "uniqueWords": len({t.lower() for t in tokens}),
            "sentences": sentences,
            "paragraphs": paragraphs,
            "syllables": syllables,
            "avgWordsPerSentence": round(asl, 2),
            "avgSyllablesPerWord": round(asw, 2) if asw is not None else None,
            "avgWordLength": round(letters / n_words, 2) if n_words else 0.0,
            "readingEase": ease,
            "readingEaseFormula": formula[0] if ease is not None else None,
            "readingLevel": level(ease) if ease is not None else None,
            "gradeLevel": grade,
            "readingTimeSeconds": seconds,
            "language": language,
        }
        out["text"] = self._one_line(out)
        return out

    @staticmethod
    def _one_line(s: dict[str, Any]) -> str:
        parts = [f"{s['words']} words, {s['sentences']} sentences"]
        if s["readingEase"] is not None:
            ease = f"{s['readingEaseFormula']} reading ease {s['readingEase']} ({s['readingLevel']})"
            if s["gradeLevel"] is not None:
                ease += f", grade {s['gradeLevel']}"
            parts.append(ease)
        parts.append(f"{_duration(s['readingTimeSeconds'])} to read")
        line = "; ".join(parts)
        if s["language"] != "und":
            line += f" [{name_of(s['language'])}]"
        return line + "."
