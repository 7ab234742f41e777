"""Text normalisation, in one place.

Cleaning: one normalisation for every text that enters: document titles and texts (JSON,
multipart, files, the CLI) and questions. The same article therefore gets the same stored text,
hash and id whichever way it came in, and every offset is an offset into that normalised text.

Folding and terms, for comparing words (each kept exactly as its users were measured with;
where two differ, they are two named functions, not one with a flag):
- `fold`: casefold, accents dropped (NFKD): stories, article structure.
- `fold_mention`: lower-case, accents dropped (NFKD), curly apostrophe straightened: the
  follow-up resolver's mentions.
- `fts_fold` / `terms`: the terms SQLite FTS5 (porter unicode61) indexes: the re-scorer.
- `stem` / `content_words`: a crude suffix stripper and stop-word filter: evidence sentences
  and the rule-based extractor.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import unicodedata

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


# ---- folding and terms


def fold(text: str) -> str:
    """Lower-case without accents, for comparing words ("Dolmabahçe" matches "dolmabahce")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_mention(text: str) -> str:
    """Lower case without accents ("Dalí" -> "dali"), "’" as "'": how the follow-up resolver
    compares mentions. Unlike `fold`, lower() rather than casefold() ("ß" stays)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fts_fold(text: str) -> str:
    """Lower case, diacritics removed by canonical decomposition (NFD, so compatibility
    characters such as ligatures stay): the folding before FTS5-style tokens."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


# FTS5's unicode61 tokenizer: runs of letters and digits (underscore separates), lower-cased,
# Latin diacritics removed. The porter stems come from SQLite's own FTS5 (see _Stemmer), so
# a question's terms are exactly the terms the lexical index holds.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class _Stemmer:
    """Porter stems as FTS5 makes them: unknown tokens go through an in-memory FTS5 table once,
    then come from a cache."""

    max_cached = 500_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute("CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'porter unicode61')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance')")

    def _fts_terms(self, text: str) -> list[tuple[int, str]]:
        self._conn.execute("DELETE FROM t")
        self._conn.execute("INSERT INTO t (x) VALUES (?)", (text,))
        return [(int(o), str(term)) for o, term in
                self._conn.execute("SELECT offset, term FROM v ORDER BY offset")]

    def stems(self, tokens: list[str]) -> list[str]:
        with self._lock:
            missing = [t for t in dict.fromkeys(tokens) if t not in self._cache]
            if missing:
                if len(self._cache) + len(missing) > self.max_cached:
                    self._cache.clear()
                found = self._fts_terms(" ".join(missing))
                if [o for o, _ in found] == list(range(len(missing))):
                    self._cache.update(zip(missing, (term for _, term in found), strict=True))
                else:  # a token FTS5 splits differently: one at a time, first term
                    for token in missing:
                        one = self._fts_terms(token)
                        self._cache[token] = one[0][1] if one else token
            return [self._cache[t] for t in tokens]


@functools.cache
def _stemmer() -> _Stemmer:
    """One per process, made on first use (nothing is opened at import)."""
    return _Stemmer()


def terms(text: str) -> list[str]:
    """The terms FTS5 indexes for `text`, in order."""
    return _stemmer().stems(_TOKEN.findall(fts_fold(text)))


_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an the of in on at to for by with from and or is are was were be been did do does what "
    "who whom whose where when why how which that this these those it its they them their he she "
    "his her as about after before into over than then there".split()
)


def stem(word: str) -> str:
    """A crude suffix stripper, enough to match "meet"/"meeting" or "report"/"reported"."""
    for suffix in ("ings", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words of `text` other than stop words."""
    return {stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}
