"""Language detection with langdetect (a port of Google's language-detection: character
n-gram profiles of 55 languages). Its detector samples n-grams at random, so it is seeded
here: the same text always gets the same answer. Each call builds its own detector (own
random state) from one shared factory, which makes concurrent calls safe."""

from __future__ import annotations

from typing import Any

from studio.providers.local.base import Lazy, LocalModel, require_text
from studio.providers.local.languages import UNDETERMINED, name_of
from studio.providers.local.textsplit import words

SEED = 0


def _factory():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(SEED)
    return factory


_FACTORY = Lazy(_factory)


def detect(text: str) -> list[tuple[str, float]]:
    """(code, probability) pairs, most likely first; [] when the text has no letters."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _FACTORY.get().create()
    detector.append(text)
    try:
        found = detector.get_probabilities()
    except LangDetectException:
        return []
    return [(lang.lang, float(lang.prob)) for lang in found]


def detect_code(text: str) -> str:
    """The most likely code, or "und" when nothing can be told."""
    found = detect(text)
    return found[0][0] if found else UNDETERMINED


SURE_ENOUGH = 0.9  # below this probability a short text's language is a guess, not a finding


def confident_code(text: str) -> str:
    """The language only when the detector is sure of it, else "und" (a warning that a short
    English text "looks Slovenian" is worse than no warning)."""
    found = detect(text)
    if not found or found[0][1] < SURE_ENOUGH:
        return UNDETERMINED
    return found[0][0]


# langdetect answers a word or two with full confidence and no sense ("Nice." is Romanian at
# 1.0, "Too expensive." Portuguese at 1.0): under MIN_WORDS it is not believed at all, and
# under SHORT_WORDS only when SURE_ENOUGH ("Not very good." is Afrikaans at 0.86). Han and
# kana characters count as words (textsplit.words), so short Chinese or Japanese still counts.
MIN_WORDS = 3
SHORT_WORDS = 5


class LanguageDetector(LocalModel):
    name = "langdetect"
    description = (
        "Detects the language of a text among 55 (langdetect, Google's n-gram profiles). "
        "Reliable from a sentence or two; 'und' (undetermined, confidence 0) when the text has "
        "no letters or is too short to tell: under 3 words, or under 5 without a sure answer."
    )

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        text = require_text(input)
        found = detect(text)
        count = len(words(text)) if found else 0
        if count < SHORT_WORDS and found and (count < MIN_WORDS or found[0][1] < SURE_ENOUGH):
            found = []  # a guess from a few letters, not a finding
        if not found:
            return {"label": UNDETERMINED, "scores": {}, "language": name_of(UNDETERMINED), "confidence": 0.0}
        code, prob = found[0]
        return {
            "label": code,
            "scores": {c: round(p, 4) for c, p in found},
            "language": name_of(code),
            "confidence": round(prob, 4),
        }
