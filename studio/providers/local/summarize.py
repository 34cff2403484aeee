"""Extractive summary: the text's own most central sentences, in their original order.

Centrality is TextRank (Mihalcea & Tarau, 2004): sentences are nodes, linked by how many
content words they share (normalised by their lengths, as in the paper), ranked by
PageRank. Words are compared by their first six letters, a crude stemmer that works the
same in every language ("battery"/"batteries"); Chinese and Japanese by character bigrams.
Past MAX_GRAPH_SENTENCES the pairwise graph gets slow, so long texts are scored by the
frequency of their content words instead. Nothing is paraphrased: every sentence returned
is a sentence of the input, word for word.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from studio.providers.local.base import LocalModel, language_choice, require_text
from studio.providers.local.language import detect_code
from studio.providers.local.stopwords import stopwords
from studio.providers.local.textsplit import content_terms, split_sentences

MAX_GRAPH_SENTENCES = 300
STEM_LENGTH = 6
DAMPING = 0.85
_NO_SPACE_AFTER = tuple("。！？」』")


def _terms(sentence: str, stop: frozenset[str]) -> list[str]:
    return [t[:STEM_LENGTH] for t in content_terms(sentence, stop)]


def textrank(term_lists: list[list[str]], iterations: int = 60) -> list[float] | None:
    """PageRank scores over the sentence-similarity graph; None if no two sentences share
    a word (the graph has no edges, so ranks would say nothing)."""
    n = len(term_lists)
    sets = [set(t) for t in term_lists]
    weights: list[dict[int, float]] = [{} for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            shared = len(sets[i] & sets[j])
            if not shared:
                continue
            w = shared / (math.log(1 + len(sets[i])) + math.log(1 + len(sets[j])))
            weights[i][j] = weights[j][i] = w
    if not any(weights):
        return None
    out_sum = [sum(w.values()) for w in weights]
    rank = [1.0 / n] * n
    for _ in range(iterations):
        new = [
            (1 - DAMPING) / n
            + DAMPING * sum(rank[j] * w / out_sum[j] for j, w in weights[i].items())
            for i in range(n)
        ]
        delta = sum(abs(a - b) for a, b in zip(new, rank))
        rank = new
        if delta < 1e-9:
            break
    return rank


def word_frequency(term_lists: list[list[str]]) -> list[float]:
    """Mean document frequency of a sentence's content words (Luhn-style)."""
    freq = Counter(t for terms in term_lists for t in terms)
    return [sum(freq[t] for t in terms) / len(terms) if terms else 0.0 for terms in term_lists]


def join_sentences(sentences: list[str]) -> str:
    out = ""
    for s in sentences:
        if out and not out.endswith(_NO_SPACE_AFTER):
            out += " "
        out += s
    return out


class ExtractiveSummary(LocalModel):
    name = "textrank-summary"
    description = (
        "Extractive summary: picks the text's most central sentences (TextRank) and keeps "
        "them in their original order, word for word. Sentence splitting knows common "
        "abbreviations in English, French, German, Spanish and Italian, and CJK punctuation."
    )

    PARAMS = {"sentences": (int, 3, 1, 100)}

    def run(self, input: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        text = require_text(input)
        wanted = self.param(params, "sentences")
        language = language_choice(input, params) or detect_code(text)
        sentences = split_sentences(text, language)
        term_lists = [_terms(s, stopwords(language)) for s in sentences]

        method = "all"
        if len(sentences) <= wanted:
            chosen = list(range(len(sentences)))
        else:
            scores = None
            if len(sentences) <= MAX_GRAPH_SENTENCES:
                scores = textrank(term_lists)
                method = "textrank"
            if scores is None:
                scores = word_frequency(term_lists)
                method = "word-frequency"
            # Best first; ties go to the earlier sentence (leads tend to matter).
            ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
            chosen = sorted(ranked[:wanted])

        picked = [sentences[i] for i in chosen]
        return {
            "text": join_sentences(picked),
            "sentences": picked,
            "indices": chosen,
            "sentenceCount": len(sentences),
            "language": language,
            "method": method,
        }
