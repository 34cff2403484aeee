"""Language codes (langdetect's ISO 639-1 set) and their English names, both ways."""

from __future__ import annotations

UNDETERMINED = "und"  # ISO 639-2 "undetermined": too little text to tell

NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian",
    "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kn": "Kannada",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam",
    "mr": "Marathi", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
    "sl": "Slovenian", "so": "Somali", "sq": "Albanian", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh-cn": "Chinese (Simplified)",
    "zh-tw": "Chinese (Traditional)", UNDETERMINED: "Undetermined",
}

_BY_NAME = {name.lower(): code for code, name in NAMES.items()}
_BY_NAME.update({"chinese": "zh-cn", "farsi": "fa", "castilian": "es"})


def name_of(code: str) -> str:
    return NAMES.get(code, code)


def normalize(value: str) -> str:
    """'fr', 'FR', 'fr-FR', 'French' → 'fr'. Unknown values come back lower-cased as given,
    so a caller can still name a language langdetect does not know."""
    v = value.strip().lower().replace("_", "-")
    if v in NAMES:
        return v
    if v in _BY_NAME:
        return _BY_NAME[v]
    if v.startswith("zh"):
        return "zh-tw" if v.endswith(("tw", "hk", "hant")) else "zh-cn"
    base = v.split("-")[0]
    return base if base in NAMES else v


def base_code(code: str) -> str:
    """Two-letter base: 'zh-cn' → 'zh'."""
    return code.split("-")[0]
