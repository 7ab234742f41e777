"""One normalisation for every text that enters: document titles and texts (JSON, multipart,
files, the CLI) and questions. The same article therefore gets the same stored text, hash and
id whichever way it came in, and every offset is an offset into that normalised text."""

from __future__ import annotations

import re

# Characters that render as nothing and only break matching and citations: zero-width space,
# word joiner, BOM/zero-width no-break space, soft hyphen, and the bidirectional embedding,
# override and isolate controls. ZWJ/ZWNJ (U+200C/D) stay: they change how some scripts and
# emoji are written.
_INVISIBLE = "\u200b\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0/C1 controls other than tab and newline (and the line breaks mapped to "\n" below)
_CONTROLS = "".join(chr(c) for c in [*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F,
                                     *range(0x80, 0x85), *range(0x86, 0xA0)])
_DROP = str.maketrans("", "", _INVISIBLE + _CONTROLS)
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class TextError(ValueError):
    """Text that cannot be taken as text (NUL characters: binary data)."""


def replace_surrogates(value: object) -> object:
    """`value` with unpaired surrogates in its strings (JSON's "\\ud800" escapes) replaced by
    U+FFFD, through lists and dicts: what cannot be encoded never reaches the models."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: replace_surrogates(v) for k, v in value.items()}
    return value


def clean_text(text: str) -> str:
    """`text` as stored: unpaired surrogates replaced by U+FFFD, line breaks as "\\n", and
    invisible format characters and control characters removed. Raises TextError for NUL
    characters, which only binary data carries."""
    if "\x00" in text:
        raise TextError("binary data (NUL characters), not text")
    text = _SURROGATE.sub("\ufffd", text)
    text = _LINE_BREAKS.sub("\n", text)
    return text.translate(_DROP)


def clean_line(text: str) -> str:
    """A one-line field (a title, a question): cleaned, NULs dropped, whitespace collapsed."""
    return " ".join(clean_text(text.replace("\x00", " ")).split())


def fold(text: str) -> str:
    """Lower-case without accents, for comparing words ("Dolmabahçe" matches "dolmabahce")."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
