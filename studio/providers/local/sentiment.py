"""Sentiment with VADER: a lexicon of about 7,500 English words and emoticons, rated by
people, plus rules for negation, intensifiers ("very"), "but", capitals and "!!!".

VADER knows English only. On other languages it scores the few words that happen to look
English, and some of those mean something else: German "war" (was) counts as negative. So
the text's language is checked first; outside English the result carries
`reliable: false` and a note saying so, instead of a confident-looking wrong answer. A text
too short to tell is scored as English but not called reliable either: a report that says
"reliable" beside an unknown language claims what nobody checked.
"""

from __future__ import annotations

from typing import Any

from studio.providers.local.base import Lazy, LocalModel, language_choice, require_text
from studio.providers.local.language import confident_code
from studio.providers.local.languages import UNDETERMINED, name_of
from studio.providers.local.textsplit import words

# Below this many words langdetect guesses ("I love it" comes out Slovenian), so it is not
# asked; above it, only a confident answer counts (language.confident_code).
MIN_WORDS_TO_DETECT = 5


def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


_ANALYZER = Lazy(_analyzer)


class VaderSentiment(LocalModel):
    name = "vader-sentiment"
    description = (
        "Positive / negative / neutral sentiment with VADER, a rule-based English lexicon "
        "tuned for reviews and social media. English only: on other languages it scores the "
        "few look-alike words (German 'war' = was, rated negative), so non-English text is "
        "detected and flagged reliable=false (as is text too short to tell)."
    )

    PARAMS = {"threshold": (float, 0.05, 0.0, 1.0)}

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        text = require_text(input)
        threshold = self.param(params, "threshold")
        analyzer = _ANALYZER.get()
        polarity = analyzer.polarity_scores(text)
        compound = polarity["compound"]
        if compound >= threshold and compound > 0:
            label = "positive"
        elif compound <= -threshold and compound < 0:
            label = "negative"
        else:
            label = "neutral"

        tokens = words(text)
        language = language_choice(input, params)
        if language is None:
            language = confident_code(text) if len(tokens) >= MIN_WORDS_TO_DETECT else UNDETERMINED
        hits = list(dict.fromkeys(t.lower() for t in tokens if t.lower() in analyzer.lexicon))

        out: dict[str, Any] = {
            "label": label,
            "scores": {
                "positive": polarity["pos"],
                "negative": polarity["neg"],
                "neutral": polarity["neu"],
            },
            "compound": compound,
            "language": language,
            "reliable": language == "en",
            "lexiconHits": hits,
        }
        if language == UNDETERMINED:
            out["note"] = ("Too short to tell the language for sure; VADER assumed English, so "
                           "this label holds only if the text is English.")
        elif language != "en":
            out["note"] = (
                f"The text looks {name_of(language)}; VADER only knows English, so this "
                "label is unreliable. Use a multilingual model for this language."
            )
        return out
