"""The built-in local models on real text in several languages and scripts."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from studio.providers.errors import ErrorKind, ProviderError
from studio.providers.local import LOCAL_MODELS
from studio.providers.local.base import Lazy
from tests.providers import local_texts as T

sentiment = LOCAL_MODELS["vader-sentiment"]
detector = LOCAL_MODELS["langdetect"]
keywords = LOCAL_MODELS["yake-keywords"]
summary = LOCAL_MODELS["textrank-summary"]
stats = LOCAL_MODELS["text-stats"]


# ---------------------------------------------------------------- language detection

@pytest.mark.parametrize("code", sorted(T.BY_LANGUAGE))
def test_detects_the_language_of_real_text(code):
    out = detector.run({"text": T.BY_LANGUAGE[code]}, {})
    assert out["label"] == code
    assert out["scores"][code] == out["confidence"] > 0.9
    assert out["language"] == {"en": "English", "fr": "French", "de": "German", "es": "Spanish",
                               "it": "Italian", "ru": "Russian", "zh-cn": "Chinese (Simplified)",
                               "ja": "Japanese", "ar": "Arabic", "hi": "Hindi", "el": "Greek"}[code]


def test_detection_is_deterministic_even_on_ambiguous_text():
    runs = [detector.run({"text": "super"}, {}) for _ in range(20)]
    assert all(r == runs[0] for r in runs)
    # The same word through an unseeded langdetect: its random sampling varies run to run.
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    unseeded = DetectorFactory()
    unseeded.load_profile(PROFILES_DIRECTORY)
    seen = set()
    for _ in range(20):
        d = unseeded.create()
        d.append("super")
        seen.add(tuple((lang.lang, round(lang.prob, 4)) for lang in d.get_probabilities()))
    assert len(seen) > 1


@pytest.mark.parametrize("text", ["Nice.", "Too expensive.", "Terrible.", "Not bad.", "I love it",
                                  "Not very good.", "Smells very bad."])
def test_a_few_words_are_undetermined_not_a_confident_guess(text):
    # langdetect alone: "Nice." Romanian 1.0, "Too expensive." Portuguese 1.0, "Not bad." Somali.
    assert detector.run({"text": text}, {}) == {"label": "und", "scores": {}, "language": "Undetermined",
                                                "confidence": 0.0}


@pytest.mark.parametrize("text,code", [("Would buy again.", "en"), ("Das ist gut.", "de"),
                                       ("Très bon produit.", "fr"), ("Sehr gutes Produkt, danke.", "de"),
                                       ("Prodotto ottimo, spedizione velocissima.", "it"),
                                       ("我很喜欢这个产品", "zh-cn")])
def test_short_texts_with_a_sure_answer_keep_their_language(text, code):
    assert detector.run({"text": text}, {})["label"] == code


def test_text_without_letters_is_undetermined():
    out = detector.run({"text": "12345 !!! 678"}, {})
    assert out == {"label": "und", "scores": {}, "language": "Undetermined", "confidence": 0.0}


# ---------------------------------------------------------------- sentiment

@pytest.mark.parametrize("text,label", [
    (T.EN_POSITIVE, "positive"),
    (T.EN_NEGATIVE, "negative"),
    (T.EN_NEGATED, "negative"),   # "not good": VADER's negation rule, not a word count
    (T.EN_NEUTRAL, "neutral"),
])
def test_english_sentiment(text, label):
    out = sentiment.run({"text": text}, {})
    assert out["label"] == label
    assert out["language"] == "en" and out["reliable"] is True and "note" not in out
    if label == "positive":
        assert out["compound"] > 0.5 and out["scores"]["positive"] > out["scores"]["negative"]
    elif label == "negative":
        assert out["compound"] < -0.5 and out["scores"]["negative"] > out["scores"]["positive"]
    else:
        assert out["compound"] == 0 and out["lexiconHits"] == []


def test_non_english_sentiment_is_flagged_unreliable_with_the_reason():
    # A glowing German review that VADER scores negative: "war" (was) is English "war".
    out = sentiment.run({"text": T.DE_REVIEW}, {})
    assert out["label"] == "negative" and "war" in out["lexiconHits"]
    assert out["language"] == "de" and out["reliable"] is False
    assert "German" in out["note"] and "unreliable" in out["note"]
    fr = sentiment.run({"text": T.FR_REVIEW}, {})
    assert fr["language"] == "fr" and fr["reliable"] is False and "French" in fr["note"]


def test_sentiment_of_too_short_text_says_its_language_was_not_checked():
    out = sentiment.run({"text": "Great!"}, {})
    assert out["label"] == "positive" and out["language"] == "und" and "Too short" in out["note"]
    assert out["reliable"] is False  # scored as English, but nobody checked that it is


def test_sentiment_trusts_a_given_language():
    out = sentiment.run({"text": T.EN_POSITIVE, "language": "English"}, {})
    assert out["language"] == "en" and out["reliable"] is True
    out = sentiment.run({"text": T.EN_POSITIVE}, {"language": "fr"})
    assert out["reliable"] is False


def test_sentiment_threshold_param_widens_neutral():
    text = "The room was okay."
    assert sentiment.run({"text": text}, {})["label"] == "positive"
    assert sentiment.run({"text": text}, {"threshold": 0.5})["label"] == "neutral"


# ---------------------------------------------------------------- keywords

def _in_text(keyword: str, text: str) -> bool:
    return keyword.lower() in text.lower()


@pytest.mark.parametrize("code", ["en", "fr", "de", "es", "it", "ru", "ar", "hi", "el"])
def test_keywords_come_from_the_text(code):
    text = T.BY_LANGUAGE[code]
    out = keywords.run({"text": text}, {"top": 6})
    assert out["method"] == "yake" and out["language"] == code
    assert 1 <= len(out["keywords"]) <= 6
    for k in out["keywords"]:
        assert _in_text(k["keyword"], text), k
    scores = [k["score"] for k in out["keywords"]]
    assert scores == sorted(scores)  # most relevant (lowest) first
    assert out["text"] == ", ".join(k["keyword"] for k in out["keywords"])


def test_keywords_name_what_the_text_is_about_and_skip_stopwords():
    en = [k["keyword"].lower() for k in keywords.run({"text": T.EN_REVIEW}, {"top": 10})["keywords"]]
    assert "battery life" in en
    fr = [k["keyword"].lower() for k in keywords.run({"text": T.FR_REVIEW}, {"top": 10})["keywords"]]
    de = [k["keyword"].lower() for k in keywords.run({"text": T.DE_REVIEW}, {"top": 10})["keywords"]]
    es = [k["keyword"].lower() for k in keywords.run({"text": T.ES_REVIEW}, {"top": 10})["keywords"]]
    assert any("hôtel" in k for k in fr) and any("berlin" in k for k in de)
    assert any("restaurante" in k for k in es)
    for found, stop in ((fr, {"le", "la", "et", "de"}), (de, {"der", "die", "das", "und"}), (es, {"el", "la", "y", "de"})):
        assert not stop & set(found)


def test_keywords_respect_top_and_max_words():
    out = keywords.run({"text": T.EN_ARTICLE}, {"top": 4, "maxWords": 1})
    assert len(out["keywords"]) == 4
    assert all(len(k["keyword"].split()) == 1 for k in out["keywords"])
    assert "solar" in [k["keyword"].lower() for k in out["keywords"]]


def test_chinese_and_japanese_keywords_use_character_sequences():
    zh = keywords.run({"text": T.ZH_TEXT}, {})
    assert zh["method"] == "cjk-ngrams" and zh["keywords"][0]["keyword"] == "人工智能"
    assert all(k["keyword"] in T.ZH_TEXT for k in zh["keywords"])
    ja = keywords.run({"text": T.JA_TEXT}, {})
    assert ja["method"] == "cjk-ngrams" and ja["keywords"][0]["keyword"] == "東京"
    assert {"浅草寺", "観光地"} <= {k["keyword"] for k in ja["keywords"]}


def test_keyword_language_can_be_given():
    out = keywords.run({"text": T.DE_REVIEW}, {"language": "German"})
    assert out["language"] == "de"


# ---------------------------------------------------------------- summary

def _check_extract(out, text):
    positions = [text.index(s) for s in out["sentences"]]  # ValueError if not verbatim
    assert positions == sorted(positions)
    assert out["indices"] == sorted(out["indices"])
    assert len(out["text"]) < len(text)


def test_summary_keeps_central_sentences_verbatim_in_order_and_drops_off_topic_ones():
    out = summary.run({"text": T.EN_ARTICLE}, {})
    assert out["method"] == "textrank" and out["sentenceCount"] == 8
    assert len(out["sentences"]) == 3
    _check_extract(out, T.EN_ARTICLE)
    joined = " ".join(out["sentences"])
    assert "strawberry" not in joined and "weather" not in joined
    assert all("solar" in s.lower() for s in out["sentences"])


@pytest.mark.parametrize("code,count", [("fr", 5), ("de", 5), ("es", 6), ("ru", 4), ("zh-cn", 4)])
def test_summary_in_other_languages_splits_sentences_correctly(code, count):
    text = T.BY_LANGUAGE[code]
    out = summary.run({"text": text}, {"sentences": 2})
    assert out["sentenceCount"] == count and out["language"] == code
    assert len(out["sentences"]) == 2
    _check_extract(out, text)


def test_summary_does_not_break_sentences_at_abbreviations():
    fr = summary.run({"text": T.FR_REVIEW}, {"sentences": 5})["sentences"]
    assert "M. Dupont, le directeur, nous a accueillis à la gare." in fr
    de = summary.run({"text": T.DE_REVIEW}, {"sentences": 5})["sentences"]
    assert "Am 3. Oktober fuhren wir mit dem Zug nach Berlin." in de
    assert "Das Hotel war wunderbar, z.B. das Frühstück mit frischem Brot." in de


def test_summary_of_a_short_text_is_the_whole_text():
    out = summary.run({"text": T.EN_NEUTRAL}, {"sentences": 3})
    assert out["method"] == "all" and out["text"] == T.EN_NEUTRAL and out["indices"] == [0, 1]


def test_summary_sentence_count_param():
    out = summary.run({"text": T.EN_ARTICLE}, {"sentences": 1})
    assert len(out["sentences"]) == 1 and "solar" in out["text"].lower()


# ---------------------------------------------------------------- statistics

def test_stats_on_a_text_with_known_counts():
    text = "The cat sat on the mat. The dog ate the bone."
    out = stats.run({"text": text}, {})
    assert (out["words"], out["sentences"], out["syllables"], out["characters"]) == (11, 2, 11, 45)
    assert out["charactersNoSpaces"] == 35 and out["letters"] == 33 and out["uniqueWords"] == 8
    assert out["avgWordsPerSentence"] == 5.5 and out["avgSyllablesPerWord"] == 1.0
    # Flesch: 206.835 - 1.015 * 5.5 - 84.6 * 1 = 116.65 ; Flesch-Kincaid: 0.39 * 5.5 + 11.8 - 15.59 = -1.645
    assert out["readingEase"] == 116.7 and out["gradeLevel"] == -1.6
    assert out["readingEaseFormula"] == "Flesch" and out["readingLevel"] == "very easy"
    assert out["readingTimeSeconds"] == 3  # 11 words at 238 a minute: 2.8 s
    assert out["text"].startswith("11 words, 2 sentences; Flesch reading ease 116.7 (very easy), grade -1.6")


def test_harder_english_reads_harder():
    easy = stats.run({"text": "The cat sat on the mat. The dog ate the bone."}, {})
    hard = stats.run({"text": (
        "Photovoltaic electricity generation necessitates considerable infrastructural "
        "investment, particularly regarding intermittency mitigation technologies."
    )}, {})
    assert hard["readingEase"] < 0 < 100 < easy["readingEase"]
    assert hard["gradeLevel"] > 15 and hard["readingLevel"] == "very difficult"


@pytest.mark.parametrize("code,formula", [("fr", "Kandel-Moles"), ("de", "Amstad"),
                                          ("es", "Fernandez-Huerta"), ("it", "Flesch-Vacca")])
def test_stats_use_the_formula_made_for_the_language(code, formula):
    out = stats.run({"text": T.BY_LANGUAGE[code]}, {})
    assert out["language"] == code and out["readingEaseFormula"] == formula
    assert 0 < out["readingEase"] < 120 and out["gradeLevel"] is None
    assert out["syllables"] > out["words"]


def test_stats_for_chinese_japanese_and_russian():
    zh = stats.run({"text": T.ZH_TEXT}, {})
    han = len(re.findall("[\u4e00-\u9fff]", T.ZH_TEXT))
    assert zh["words"] == zh["syllables"] == han and zh["sentences"] == 4
    assert zh["readingEase"] is None and zh["readingTimeSeconds"] == round(han / 255 * 60)
    ja = stats.run({"text": T.JA_TEXT}, {})
    assert ja["syllables"] is None and ja["avgSyllablesPerWord"] is None and ja["sentences"] == 3
    ru = stats.run({"text": "Москва — столица России."}, {"language": "ru"})
    assert ru["words"] == 3 and ru["syllables"] == 2 + 3 + 3 and ru["readingEase"] is None  # Мос-ква сто-ли-ца Рос-си-и


def test_stats_paragraphs_and_reading_speed():
    text = "First paragraph here.\n\nSecond one. It has two sentences.\n\n\nThird"
    out = stats.run({"text": text}, {"wordsPerMinute": 60, "language": "en"})
    assert out["paragraphs"] == 3 and out["sentences"] == 4 and out["words"] == 10
    assert out["readingTimeSeconds"] == 10


# ---------------------------------------------------------------- errors, threads, imports

@pytest.mark.parametrize("model", sorted(LOCAL_MODELS))
def test_missing_text_is_an_invalid_input_error(model):
    with pytest.raises(ProviderError) as e:
        LOCAL_MODELS[model].run({"prompt": "hi"}, {})
    assert e.value.kind is ErrorKind.INVALID_INPUT and "'text'" in e.value.detail


@pytest.mark.parametrize("model,params,name", [
    ("textrank-summary", {"sentences": 0}, "sentences"),
    ("textrank-summary", {"sentences": "three"}, "sentences"),
    ("yake-keywords", {"top": 2.5}, "top"),
    ("yake-keywords", {"maxWords": 9}, "maxWords"),
    ("vader-sentiment", {"threshold": 2}, "threshold"),
    ("text-stats", {"wordsPerMinute": True}, "wordsPerMinute"),
])
def test_bad_params_name_the_param(model, params, name):
    with pytest.raises(ProviderError) as e:
        LOCAL_MODELS[model].run({"text": T.EN_REVIEW}, params)
    assert e.value.kind is ErrorKind.INVALID_INPUT and f"'{name}'" in e.value.detail


def test_models_give_the_same_answers_from_many_threads():
    jobs = [(name, text) for name in sorted(LOCAL_MODELS) for text in T.BY_LANGUAGE.values()]
    expected = [LOCAL_MODELS[n].run({"text": t}, {}) for n, t in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda job: LOCAL_MODELS[job[0]].run({"text": job[1]}, {}), jobs * 3))
    assert got == expected * 3


def test_lazy_builds_its_value_once_under_concurrent_first_use():
    built = []

    def factory():
        built.append(1)
        time.sleep(0.05)  # widen the window in which a second builder could slip in
        return object()

    lazy = Lazy(factory)
    start = threading.Barrier(8)
    results = []

    def use():
        start.wait()
        results.append(lazy.get())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and len({id(r) for r in results}) == 1


def test_importing_the_package_loads_no_model_library():
    code = (
        "import sys, studio.providers.local as m; "
        "print(len(m.LOCAL_MODELS), sorted(x for x in ('yake', 'langdetect', 'vaderSentiment', 'numpy', 'networkx') if x in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert r.stdout.split(None, 1) == ["5", "[]\n"]


def test_short_texts_get_no_language_warning_and_longer_foreign_ones_do():
    from studio.providers.local.sentiment import VaderSentiment

    model = VaderSentiment()
    for short in ("I love it", "ok", "Me encanta", "Great stay!"):
        out = model.run({"text": short}, {})
        assert out["language"] == "und" and "looks" not in (out.get("note") or ""), (short, out)
    out = model.run({"text": "Das Hotel war schrecklich und das Frühstück kalt."}, {})
    assert out["reliable"] is False and "German" in out["note"]
