"""Splitting text into sentences and words, for several languages and scripts.

Sentences end at . ! ? … (and 。！？ ． in Chinese and Japanese, । in Devanagari, ؟ in Arabic),
with closing quotes and brackets kept on the sentence they close. A full stop does not end a
sentence after a known abbreviation ("Dr.", "z.B.", "Mme.", "p.ej."), after a single capital
(an initial: "J. K. Rowling"), after a German ordinal before a month ("3. Oktober"), or when
the next word starts in lower case ("etc. and so on", "… he said"); nor does a quoted
Japanese sentence that goes on with と ("「行きますか？」と聞いた。"). Blank lines always end a
sentence, so headings and list items without a full stop stand alone.

Words are runs of letters and digits, with inner apostrophes and hyphens ("don't",
"porte-monnaie"). Chinese and Japanese are written without spaces: each Han or kana
character counts as one word unit there — a rough but honest measure without a dictionary.
"""

from __future__ import annotations

import re

# Abbreviations per language (lower case, without the final full stop). Kept apart because
# some are ordinary words elsewhere: French "Me" (Maître) is English "me".
_ABBREVIATIONS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "common": "dr prof st vs cf al fig figs vol vols p pp ca approx etc inc ltd co corp",
        "en": """mr mrs ms jr sr mt dept est jan feb mar apr jun jul aug sep sept oct nov dec
                 ave blvd rd gen col lt sgt capt rev hon gov pres e.g i.e a.m p.m u.s u.k ph.d""",
        "fr": "m mm mme mmes mlle mlles mgr pr me av apr env éd ste bd chap p.ex j.-c",
        "de": """z.b u.a d.h bzw evtl ggf vgl str hr fr inkl z.t s.o u.ä o.ä bspw sog jh jhd
                 abs usw""",
        "es": "sr sra srta dra dña ud uds vd vds pág págs avda lic ing p.ej aprox",
        "it": "sig sigg dott ecc",
    }.items()
}
# For other languages: the common ones and the dotted ones ("z.b", "e.g"), which are words
# in no language; undotted ones like "me" or "fr" would hide real sentence ends.
_UNKNOWN_LANGUAGE = _ABBREVIATIONS["common"] | frozenset(
    a for lang in _ABBREVIATIONS.values() for a in lang if "." in a
)
# Number abbreviations: no sentence end only when a number follows ("No. 5", not "I said no.").
_BEFORE_NUMBER = frozenset({"no", "nos", "nr", "núm", "n°", "art"})

# Abbreviations that often end a sentence too: split after them when a capital follows.
_CAN_END = frozenset({"etc", "usw", "ecc", "u.a", "inc", "ltd", "co", "corp"})

_GERMAN_MONTHS = frozenset(
    "januar jänner februar märz april mai juni juli august september oktober november dezember".split()
)

# A candidate end: terminal marks, then closing quotes/brackets, then space or the end.
# The CJK and other full-width marks need no following space.
_END = re.compile(
    r"""(?P<mark>[.!?…]+|[。！？．]+|[।॥؟])(?P<close>["'”’»)\]」』]*)(?P<space>\s+|$)"""
    r"""|(?P<cjk>[。！？]+)(?P<cjkclose>[」』”’)]*)"""
)
# Japanese quotative particles: a quoted question or exclamation before them is not an end.
_QUOTATIVE = frozenset("とっ")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")
_WORD_BEFORE = re.compile(r"([^\s(\[\"'“‘«]+)$")
_CJK_CHAR = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORDS = re.compile(rf"[{_CJK_CHAR}]|(?:[^\W_{_CJK_CHAR}]+(?:['’\-][^\W_{_CJK_CHAR}]+)*)")
_IS_CJK = re.compile(rf"[{_CJK_CHAR}]")


def abbreviations(language: str | None) -> frozenset[str]:
    """The abbreviations known for `language`; only unambiguous ones for other languages."""
    code = (language or "").split("-")[0]
    if code in _ABBREVIATIONS and code != "common":
        return _ABBREVIATIONS["common"] | _ABBREVIATIONS[code]
    return _UNKNOWN_LANGUAGE


def split_sentences(text: str, language: str | None = None) -> list[str]:
    """The sentences of `text`, each stripped, in order; text between them is whitespace.
    `language` (a code such as "fr") narrows the abbreviations to that language's."""
    known = abbreviations(language)
    out: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        out.extend(_split_paragraph(paragraph, known))
    return out


def _split_paragraph(paragraph: str, known: frozenset[str]) -> list[str]:
    sentences: list[str] = []
    start = 0
    for m in _END.finditer(paragraph):
        if m.group("cjk") is not None:
            if m.group("cjkclose") and paragraph[m.end():m.end() + 1] in _QUOTATIVE:
                continue  # 「行きますか？」と聞いた: the quote goes on
            end = m.end()
        else:
            if not _ends_here(paragraph, m, known):
                continue
            end = m.end("close")
        piece = paragraph[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    rest = paragraph[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _ends_here(paragraph: str, m: re.Match, known: frozenset[str]) -> bool:
    nxt = paragraph[m.end():]
    next_word = nxt.split(None, 1)[0] if nxt.strip() else ""
    first = next(iter(c for c in next_word if c.isalpha() or c.isdigit()), "")
    if first and first.islower():
        return False  # "… etc. and so on", "“Why?” she asked."
    mark = m.group("mark")
    if mark != "." or m.group("close"):
        return True
    before = _WORD_BEFORE.search(paragraph, 0, m.start())
    word = before.group(1) if before else ""
    lower = word.lower().rstrip(".")
    if lower in _CAN_END:
        return True
    if lower in known:
        return False
    if lower in _BEFORE_NUMBER and first.isdigit():
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial
    if word.isdigit() and len(word) <= 2 and next_word.lower().strip(",.;:") in _GERMAN_MONTHS:
        return False  # German ordinal date: "am 3. Oktober"
    return True


def words(text: str) -> list[str]:
    """Word tokens; each Han/kana character is one token (see the module docstring)."""
    return _WORDS.findall(text)


def is_cjk(token: str) -> bool:
    return bool(_IS_CJK.match(token))


def content_terms(text: str, stopwords: frozenset[str]) -> list[str]:
    """Lower-cased words minus stopwords and one-letter tokens; runs of Han/kana characters
    become character bigrams, a common dictionary-free stand-in for words."""
    terms: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) == 1:
            terms.append(run[0])
        terms.extend(a + b for a, b in zip(run, run[1:]))
        run.clear()

    for token in words(text):
        if is_cjk(token):
            run.append(token)
            continue
        flush()
        t = token.lower()
        if len(t) > 1 and t not in stopwords and not t.isdigit():
            terms.append(t)
    flush()
    return terms
