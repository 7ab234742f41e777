"""Turn files (plain text, Markdown, HTML news pages, JSON/JSONL records, folders) into documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from qa.types import NewDocument

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES


class LoadError(ValueError):
    """A file that cannot be turned into documents; the message says why."""


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Supported files under `paths`, folders walked recursively in sorted order."""
    for path in paths:
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.suffix.lower() in SUPPORTED)
        elif path.exists():
            yield path
        else:
            raise LoadError(f"{path}: no such file or folder")


def decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if "\x00" in text:
        raise LoadError(f"{name}: binary data, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return fallback


def from_html(html: str, name: str) -> NewDocument:
    """The article text of a news page (boilerplate, menus and comments removed)."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False)
    if not text or not text.strip():
        raise LoadError(f"{name}: no article text found in the HTML")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta and meta.title else None) or _title_from_text(text, name)
    return NewDocument(
        title=title,
        text=text,
        url=meta.url if meta and meta.url else None,
        published=meta.date if meta and meta.date else None,
    )


def from_record(record: object, name: str) -> NewDocument:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise LoadError(f"{name}: each record needs a string field 'text'")
    text = record["text"]
    title = record.get("title") or _title_from_text(text, name)
    return NewDocument(
        title=str(title),
        text=text,
        url=str(record["url"]) if record.get("url") else None,
        published=str(record["published"]) if record.get("published") else None,
    )


def load_bytes(data: bytes, name: str) -> list[NewDocument]:
    """Documents in one file's contents; the suffix of `name` picks the format (default text)."""
    suffix = Path(name).suffix.lower()
    text = decode(data, name)
    if suffix in HTML_SUFFIXES or (suffix not in SUPPORTED and text.lstrip()[:15].lower()
                                   .startswith(("<!doctype html", "<html"))):
        return [from_html(text, name)]
    if suffix == ".json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{name}: invalid JSON ({exc.msg}, line {exc.lineno})") from exc
        records = parsed if isinstance(parsed, list) else [parsed]
        return [from_record(r, f"{name}[{i}]") for i, r in enumerate(records)]
    if suffix in {".jsonl", ".ndjson"}:
        docs = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    docs.append(from_record(json.loads(line), f"{name}:{lineno}"))
                except json.JSONDecodeError as exc:
                    raise LoadError(f"{name}:{lineno}: invalid JSON ({exc.msg})") from exc
        return docs
    return [NewDocument(title=_title_from_text(text, Path(name).stem), text=text)]


def load_paths(paths: list[Path]) -> list[NewDocument]:
    docs: list[NewDocument] = []
    for path in iter_files(paths):
        docs.extend(load_bytes(path.read_bytes(), str(path)))
    return docs
