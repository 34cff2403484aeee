"""Sentence splitting and syllable estimates that the summary and statistics rely on."""

from __future__ import annotations

import pytest

from studio.providers.local import syllables
from studio.providers.local.textsplit import content_terms, split_sentences, words


@pytest.mark.parametrize("text,language,expected", [
    ("Dr. Smith arrived at 9 a.m. on Monday. He left early.", "en",
     ["Dr. Smith arrived at 9 a.m. on Monday.", "He left early."]),
    ("Battery life matters most to me. Mr. J. R. Tolkien would approve... I guess? Fine.", "en",
     ["Battery life matters most to me.", "Mr. J. R. Tolkien would approve...", "I guess?", "Fine."]),
    ("I said no. Then I left. See No. 5 on p. 12 for details.", "en",
     ["I said no.", "Then I left.", "See No. 5 on p. 12 for details."]),
    ("We bought apples, pears, etc. Then we left. Growth was 3.5% in 2023.", "en",
     ["We bought apples, pears, etc.", "Then we left.", "Growth was 3.5% in 2023."]),
    ('"Why?" she asked. "Because," he said. He left.', "en",
     ['"Why?" she asked.', '"Because," he said.', "He left."]),
    ("Elle a vu Me Dupont. Il était tard.", "fr", ["Elle a vu Me Dupont.", "Il était tard."]),
    ("Am 3. Oktober fuhren wir nach Berlin, z.B. mit dem Zug. Es war schön.", "de",
     ["Am 3. Oktober fuhren wir nach Berlin, z.B. mit dem Zug.", "Es war schön."]),
    ("¿Dónde está el Sr. García? ¡No lo sé! Vive en la Avda. de Mayo.", "es",
     ["¿Dónde está el Sr. García?", "¡No lo sé!", "Vive en la Avda. de Mayo."]),
    ("Москва — столица России. Это большой город! Правда?", "ru",
     ["Москва — столица России.", "Это большой город!", "Правда?"]),
    ("यह एक वाक्य है। यह दूसरा है।", "hi", ["यह एक वाक्य है।", "यह दूसरा है।"]),
    ("東京は日本の首都です。東京には多くの観光地があります。", "ja",
     ["東京は日本の首都です。", "東京には多くの観光地があります。"]),
    ("「行きますか？」と聞いた。はい！", "ja", ["「行きますか？」と聞いた。", "はい！"]),
    ("Title without a full stop\n\nFirst paragraph here. Second sentence.", None,
     ["Title without a full stop", "First paragraph here.", "Second sentence."]),
])
def test_split_sentences(text, language, expected):
    assert split_sentences(text, language) == expected


def test_an_abbreviation_of_one_language_is_a_word_in_another():
    # French "Me" (Maître) is an abbreviation; English "me" ends sentences.
    assert split_sentences("Give it to me. Then go.", "en") == ["Give it to me.", "Then go."]
    assert split_sentences("Voir Me. Dupont demain.", "fr") == ["Voir Me. Dupont demain."]
    # Language unknown: only abbreviations that are words nowhere ("z.B.", "Dr.") hold.
    assert split_sentences("Geef het aan me. Dan ga je. Zie z.B. Dr. Jansen.") == [
        "Geef het aan me.", "Dan ga je.", "Zie z.B. Dr. Jansen."]


def test_words_keep_apostrophes_and_hyphens_and_count_han_characters():
    assert words("Don't buy the porte-monnaie, l'hôtel's fine!") == ["Don't", "buy", "the", "porte-monnaie", "l'hôtel's", "fine"]
    assert words("我爱东京 and Tokyo") == ["我", "爱", "东", "京", "and", "Tokyo"]


def test_content_terms_drop_stopwords_and_make_cjk_bigrams():
    assert content_terms("The battery of the laptop", frozenset({"the", "of"})) == ["battery", "laptop"]
    assert content_terms("人工智能", frozenset()) == ["人工", "工智", "智能"]


@pytest.mark.parametrize("word,count", [
    ("the", 1), ("cat", 1), ("make", 1), ("makes", 1), ("played", 1), ("jumped", 1),
    ("table", 2), ("boxes", 2), ("changes", 2), ("wanted", 2), ("free", 1), ("syllable", 3),
    ("beautiful", 3), ("education", 4), ("readability", 5), ("university", 5), ("yellow", 2),
])
def test_english_syllables(word, count):
    assert syllables.count(word, "en") == count


@pytest.mark.parametrize("word,language,count", [
    ("Frühstück", "de", 2), ("Zeitung", "de", 2), ("wunderbar", "de", 3),
    ("maison", "fr", 2), ("aujourd'hui", "fr", 3),
    ("paella", "es", 3), ("leer", "es", 2), ("día", "es", 2), ("ciudad", "es", 2), ("bueno", "es", 2),
    ("России", "ru", 3), ("столица", "ru", 3),
    ("人工智能", "zh-cn", 4),
])
def test_syllables_in_other_languages(word, language, count):
    assert syllables.count(word, language) == count


def test_syllables_are_unknown_where_spelling_says_nothing():
    assert syllables.count("東京", "ja") is None
    assert syllables.count("القاهرة", "ar") is None
