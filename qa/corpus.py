"""The corpus: documents and passages in the SQLite store, their passages searchable in the
passage index (qa/storage/backends: FAISS + FTS5 by default, or Milvus), kept in agreement.
Adding unchanged text is a no-op; vectors of unchanged passages are reused."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from embeddings.encoder import Encoder, shared_encoder
from embeddings.splitter import PassageSpan, PassageSplitter, Region
from qa.dates import resolve_dates
from qa.duplicates import Signature, fingerprint, group_of, signature
from qa.settings import Settings
from qa.storage.backends import (
    BackendConfig,
    IndexedPassage,
    IndexFilter,
    PassageIndex,
    open_index,
    stored_passages,
)
from qa.storage.documents import (
    DateSpan,
    DocumentLayout,
    DocumentRecord,
    DocumentStore,
    PassageRecord,
    SentenceVectors,
    content_hash,
)
from qa.structure import Block, BlockKind, article_blocks
from qa.text import TextError, clean_line, clean_text
from qa.timing import StageTimer
from qa.types import NewDocument, RetrievedPassage

log = logging.getLogger(__name__)


class DocumentError(ValueError):
    """A document that cannot be added (empty, no title...)."""


class DocumentTooLarge(DocumentError):
    """A document over the configured size limit."""


_HEAD = frozenset({BlockKind.HEADLINE, BlockKind.STANDFIRST, BlockKind.BYLINE, BlockKind.DATELINE})


def region_label(kind: BlockKind) -> str:
    """A passage's label: "caption", "head" (headline, standfirst, byline, dateline: what is
    said about the report rather than in it) or "body"."""
    return "caption" if kind is BlockKind.CAPTION else "head" if kind in _HEAD else "body"


def indexed_regions(blocks: list[Block]) -> list[Region]:
    """The parts of an article to index: runs of consecutive indexed lines of one label (head,
    body or caption); boilerplate and repeated lines fall between runs, so no passage holds
    them. An article of nothing but furniture is indexed rather than not at all (each line a
    region of its own)."""
    regions: list[Region] = []
    joinable = False  # whether the last region may grow by the next line
    for block in blocks:
        label = region_label(block.kind)
        if not block.indexed:
            joinable = False
        elif joinable and regions[-1].label == label:
            regions[-1] = Region(regions[-1].start, block.end, label)
        else:
            regions.append(Region(block.start, block.end, label))
            joinable = True
    return regions or [Region(b.start, b.end) for b in blocks]


@dataclass(frozen=True)
class Annotation:
    """A document's typed lines and dates as stored, the regions of it to index, and its
    near-duplicate signature (None when detection is off)."""

    blocks: list[tuple[int, int, str, int | None]] | None
    regions: list[Region] | None
    dates: list[DateSpan]
    signature: Signature | None = None


@dataclass(frozen=True)
class IngestResult:
    document: DocumentRecord
    created: bool  # False when the same text was already stored
    replaced: str | None = None  # the id of the story's version this one superseded


def embedding_input(title: str, passage_text: str, with_title: bool = True) -> str:
    """What the encoder sees for a passage: the headline gives pronouns and topics context."""
    return f"{title}\n{passage_text}" if title and with_title else passage_text


def passage_runs(records: list[PassageRecord], text: str) -> list[list[tuple[int, int]]]:
    """The sentences of a document's passages (in order), in runs that a passage may widen
    within: consecutive passages of one kind with nothing but white space between them (a
    boilerplate line or a repeat left out of the index ends a run)."""
    runs: list[list[PassageRecord]] = []
    for record in records:
        last = runs[-1][-1] if runs else None
        if last is not None and last.block == record.block and (
                record.start <= last.end or not text[last.end : record.start].strip()):
            runs[-1].append(record)
        else:
            runs.append([record])
    return [sentence_spans(run) for run in runs]


def sentence_spans(passages: Iterable[PassageSpan | PassageRecord]) -> list[tuple[int, int]]:
    """A document's distinct sentences (shared by overlapping passages, counted once) as
    (start, end) offsets, in order."""
    return sorted({(x.start, x.end) for p in passages for x in p.sentences})


def backend_config(settings: Settings) -> BackendConfig:
    """Where the settings' passage index is kept."""
    return BackendConfig(
        backend=settings.backend, faiss_path=settings.index_path,
        ivf_threshold=settings.ivf_threshold, milvus_uri=settings.milvus_address,
        milvus_token=settings.milvus_token, milvus_collection=settings.milvus_collection,
        milvus_index=settings.milvus_index)


class Corpus:
    def __init__(self, settings: Settings, encoder: Encoder | None = None):
        self.settings = settings
        self.encoder = encoder or shared_encoder(
            settings.encoder_path, settings.encoder_batch_size, settings.encoder_runtime,
            settings.model_cache_dir, settings.torch_threads)
        self.splitter = PassageSplitter(
            settings.sentences_per_passage, settings.passage_overlap, settings.passage_max_chars
        )
        self.store = DocumentStore(settings.db_path)
        self._index: PassageIndex | None = None
        self._seen_version = -1  # the store's corpus version the index last caught up with
        self._superseded: tuple[int, frozenset[int]] = (-1, frozenset())  # (version, ids)
        # Guards the passage index and the store+index pair during writes.
        self._lock = threading.RLock()

    # lifecycle -------------------------------------------------------------------------------
    @property
    def index(self) -> PassageIndex:
        if self._index is None:
            self.open()
        assert self._index is not None
        return self._index

    def open(self) -> None:
        """Open the passage index and check it against the store (embedding first any stored
        passage without a vector of this encoder): what a crash left between the store's
        commit and the index write is repaired here, from the stored vectors."""
        with self._lock:
            if self._index is not None:
                return
            model = self.encoder.name
            version = self.store.version()
            missing = self.store.passage_ids_without_vector(model)
            if missing:
                log.info("re-embedding %d passages without a %s vector", len(missing), model)
                records = self.store.passages(missing)
                with_title = self.settings.embed_title
                texts = [embedding_input(records[i].title, records[i].text, with_title)
                         for i in missing]
                self.store.set_vectors(missing, self.encoder.encode(texts, progress=True), model)
            index = open_index(backend_config(self.settings), self.store, self.encoder.dimension)
            index.repair(self.store, model)
            if missing:  # held under these ids with another encoder's vectors: replaced
                for chunk in stored_passages(self.store, missing, model):
                    index.add(chunk)
                index.save()
            if self.settings.rescores:
                self._backfill_sentence_vectors()
            self._index = index
            self._seen_version = version
            log.info("index ready: %d passages (%s)", len(index), index.kind)

    def refresh(self) -> None:
        """Catch up with what other processes wrote (a `qa ingest` beside a running server):
        when the store's corpus version moved since the last look, add the vectors the index
        lacks and drop those of passages gone (a shared index, Milvus, has nothing to catch up
        with). One small query when nothing changed."""
        if self._index is None:
            self.open()
            return
        if self.store.version() == self._seen_version:
            return
        with self._lock:
            index = self.index
            version = self.store.version()  # read first: a later write is caught next time
            added, removed = index.catch_up(self.store, self.encoder.name)
            self._seen_version = version
            if added or removed:
                log.info("index caught up with the store: %d passages added, %d removed",
                         added, removed)

    def _backfill_sentence_vectors(self, chunk: int = 200) -> None:
        """Embed the sentences of documents stored while re-scoring was off (or with another
        encoder), a chunk of documents at a time. Re-scoring is optional, so a failure is
        logged and the service starts; those passages' sentences count with their passage
        cosine instead (see qa/ranker.py and qa/retriever.py)."""
        missing = self.store.documents_without_sentence_vectors(self.encoder.name)
        if not missing:
            return
        log.info("embedding the sentences of %d documents", len(missing))
        try:
            for i in tqdm(range(0, len(missing), chunk), desc="sentences", unit="chunk"):
                ids, items = [], []
                for doc_id in missing[i : i + chunk]:
                    document = self.store.get_document(doc_id)
                    if document is not None:
                        ids.append(doc_id)
                        items.append((document.title, document.text,
                                      sentence_spans(self.store.document_passages(doc_id))))
                for doc_id, sentences in zip(ids, self._embed_sentences(items), strict=True):
                    self.store.set_sentence_vectors(doc_id, sentences, self.encoder.name)
        except Exception:
            log.exception("embedding stored sentences failed; re-scoring falls back to passages")

    def _embed_sentences(self, items: list[tuple[str, str, list[tuple[int, int]]]],
                         progress: bool = False) -> list[SentenceVectors]:
        """The vectors of each (title, text, distinct sentence spans)'s sentences: each
        distinct input embedded once, in one encoder call, reusing vectors stored for the same
        input before (an edited article re-embeds only its changed sentences)."""
        per_doc, inputs = self._sentence_inputs(items)
        vectors = self._complete(
            inputs, self.store.cached_sentence_vectors(list(inputs), self.encoder.name),
            "sentences", progress)
        return self._sentence_vectors(per_doc, vectors)

    def _sentence_inputs(self, items: list[tuple[str, str, list[tuple[int, int]]]]
                         ) -> tuple[list[tuple[list[int], list[str]]], dict[str, str]]:
        """Each document's (sentence starts, input hashes), and every distinct input by hash."""
        with_title = self.settings.embed_title
        per_doc: list[tuple[list[int], list[str]]] = []
        inputs: dict[str, str] = {}  # hash -> input
        for title, text, unique in items:
            texts = [embedding_input(title, text[a:b], with_title) for a, b in unique]
            hashes = [content_hash(t) for t in texts]
            inputs.update(zip(hashes, texts, strict=True))
            per_doc.append(([a for a, _ in unique], hashes))
        return per_doc, inputs

    def _sentence_vectors(self, per_doc: list[tuple[list[int], list[str]]],
                          vectors: dict[str, np.ndarray]) -> list[SentenceVectors]:
        dim = self.encoder.dimension
        return [SentenceVectors(starts, hashes,
                                np.vstack([vectors[h] for h in hashes]) if hashes
                                else np.zeros((0, dim), np.float32))
                for starts, hashes in per_doc]

    def close(self) -> None:
        """Close the index and the store, after any write in progress (it holds the lock)."""
        with self._lock:
            if self._index is not None:
                self._index.close()
            self.store.close()

    # writes ----------------------------------------------------------------------------------
    def prepare(self, doc: NewDocument) -> NewDocument:
        """`doc` as it will be stored (qa.text's one normalisation of title and text), or
        DocumentError when it cannot be: empty, binary, too large, untitled. Page ranges are
        kept only when normalising left the text as it was (qa.loaders gives such text)."""
        try:
            text = clean_text(doc.text)
            doc = replace(doc, title=clean_line(doc.title), text=text,
                          pages=doc.pages if text == doc.text else None,
                          captions=doc.captions if text == doc.text else None)
        except TextError as exc:
            raise DocumentError(f"document text is {exc}") from exc
        if doc.pages is not None and any(not 0 <= a <= b <= len(text) for a, b in doc.pages):
            raise DocumentError("page ranges outside the document text")
        self.validate(doc)
        return doc

    def prepare_each(self, docs: list[NewDocument]) -> list[NewDocument | DocumentError]:
        """`prepare` of each document, or the reason it cannot be added, in order: for callers
        that report each bad document and add the rest (`qa ingest`, the bulk route)."""
        out: list[NewDocument | DocumentError] = []
        for doc in docs:
            try:
                out.append(self.prepare(doc))
            except DocumentError as exc:
                out.append(exc)
        return out

    def validate(self, doc: NewDocument) -> None:
        if not doc.text.strip():
            raise DocumentError("document text is empty")
        size = len(doc.text.encode("utf-8"))
        if size > self.settings.max_document_bytes:
            raise DocumentTooLarge(
                f"document is {size} bytes; the limit is {self.settings.max_document_bytes}"
            )
        if not doc.title.strip():
            raise DocumentError("document title is empty")

    def add(self, docs: list[NewDocument], progress: bool = False,
            timer: StageTimer | None = None) -> list[IngestResult]:
        """Add documents (all prepared and validated first); returns one result per input, in
        order. The new documents are split in one spaCy stream, and their passages and
        sentences embedded in one encoder call; `timer` gets the split, encode and store
        stages."""
        timer = timer or StageTimer()
        docs = [self.prepare(doc) for doc in docs]
        self.refresh()  # the index saved below then holds other writers' passages too
        index = self.index
        results: list[IngestResult | None] = [None] * len(docs)
        new: list[tuple[int, NewDocument]] = []
        seen: dict[str, int] = {}
        for i, doc in enumerate(docs):
            digest = content_hash(doc.text)
            existing = self.store.find_by_hash(digest)
            if existing is not None:
                if (doc.story_key and existing.story_key == doc.story_key
                        and not existing.current):  # an edit reverted: the old text is back
                    self.store.make_current(existing.id)
                    existing = self.store.get_document(existing.id) or existing
                results[i] = IngestResult(existing, created=False)
            elif digest in seen:
                continue  # same text twice in one batch: resolved after the first is stored
            else:
                seen[digest] = i
                new.append((i, doc))
        with timer.stage("split"):
            notes = [self.annotate(doc) for _, doc in new]
            splits = self.splitter.split_many([doc.text for _, doc in new],
                                              [note.regions for note in notes])
        pending = [(i, doc, spans) for (i, doc), spans in zip(new, splits, strict=True)]
        with timer.stage("encode"):
            vectors, hashes, sentences = self._embed_batch(pending, progress)
        model = self.encoder.name
        offset = 0
        indexed: list[IndexedPassage] = []
        with timer.stage("store"), self._lock:
            for (i, doc, spans), doc_sentences, note in zip(pending, sentences, notes, strict=True):
                doc_vectors = vectors[offset : offset + len(spans)]
                doc_hashes = hashes[offset : offset + len(spans)]
                offset += len(spans)
                before = self.store.current_version(doc.story_key) if doc.story_key else None
                group = None if note.signature is None else group_of(
                    note.signature, doc.story_key,
                    self.store.band_candidates(list(note.signature.bands())))
                record, ids = self.store.add_document(
                    title=doc.title, text=doc.text, url=doc.url, published=doc.published,
                    passages=spans, vectors=doc_vectors, input_hashes=doc_hashes, model=model,
                    sentences=doc_sentences, story_key=doc.story_key, pages=doc.pages,
                    blocks=note.blocks, dates=note.dates, duplicate_of=group,
                    fingerprint=fingerprint(note.signature) if note.signature is not None else None,
                )
                indexed += [IndexedPassage(pid, record.id, record.published,
                                           doc.text[span.start : span.end], vector)
                             for pid, span, vector in zip(ids, spans, doc_vectors, strict=True)]
                results[i] = IngestResult(record, created=True,
                                          replaced=before.id if before is not None else None)
            # The store is committed first: a crash before this write is repaired on start.
            index.add(indexed)
            if pending:
                index.save()
        for i, doc in enumerate(docs):
            if results[i] is None:  # duplicate inside the batch
                stored = self.store.find_by_hash(content_hash(doc.text))
                assert stored is not None
                results[i] = IngestResult(stored, created=False)
        return [r for r in results if r is not None]

    def annotate(self, doc: NewDocument) -> Annotation:
        """What ingest learns about a document's text besides its passages: its typed lines
        and the regions to index (every line but boilerplate and repeats, captions labelled as
        such; None with article structure off: the whole text is indexed as body), and the
        dates it names, resolved against its publication date."""
        dates = [(m.start, m.end, m.value, m.first, m.last)
                 for m in resolve_dates(doc.text, doc.published)]
        sig = signature(doc.text) if self.settings.detect_duplicates else None
        # A PDF's lines are wrapped lines, not an article's blocks: left untyped.
        if not self.settings.article_structure or doc.pages is not None:
            return Annotation(None, None, dates, sig)
        blocks = article_blocks(doc.text, doc.title, doc.captions or ())
        return Annotation([(b.start, b.end, b.kind.value, b.copy_of) for b in blocks],
                          indexed_regions(blocks), dates, sig)

    def _embed_batch(self, pending: list[tuple[int, NewDocument, list[PassageSpan]]],
                     progress: bool
                     ) -> tuple[np.ndarray, list[str], list[SentenceVectors | None]]:
        """The passage vectors and input hashes of `pending` (all passages in order) and each
        document's sentence vectors (None when nothing re-scores): every distinct input not
        stored before, passage or sentence, embedded in one encoder call (the encoder sorts
        them by length, so batches pad little)."""
        with_title = self.settings.embed_title
        inputs = [embedding_input(doc.title, doc.text[p.start : p.end], with_title)
                  for _, doc, spans in pending for p in spans]
        hashes = [content_hash(t) for t in inputs]
        todo = dict(zip(hashes, inputs, strict=True))
        cached = self.store.cached_vectors(list(todo), self.encoder.name)
        per_doc: list[tuple[list[int], list[str]]] = []
        if self.settings.rescores:  # embedded before the lock, stored with the passages
            per_doc, sentence_inputs = self._sentence_inputs(
                [(doc.title, doc.text, sentence_spans(spans)) for _, doc, spans in pending])
            # The same input is the same text, so a passage's and a sentence's cached vectors
            # serve each other.
            cached.update(self.store.cached_sentence_vectors(
                [h for h in sentence_inputs if h not in cached], self.encoder.name))
            todo.update(sentence_inputs)
        found = self._complete(todo, cached, "passages and sentences", progress)
        vectors = np.vstack([found[h] for h in hashes]) if hashes else \
            np.zeros((0, self.encoder.dimension), dtype=np.float32)
        sentences: list[SentenceVectors | None] = (
            list(self._sentence_vectors(per_doc, found)) if self.settings.rescores
            else [None] * len(pending))
        return vectors, hashes, sentences

    def _complete(self, inputs: dict[str, str], cached: dict[str, np.ndarray], what: str,
                  progress: bool) -> dict[str, np.ndarray]:
        """`cached` (vectors by input hash) completed by embedding the `inputs` it lacks, each
        distinct input once: the one place where unchanged text is kept from the encoder."""
        todo = [h for h in inputs if h not in cached]
        if todo:
            cached.update(zip(todo, self.encoder.encode([inputs[h] for h in todo],
                                                        progress=progress), strict=True))
        log.info("embedded %d %s (%d reused)", len(todo), what, len(inputs) - len(todo))
        return cached

    def delete(self, document_id: str) -> bool:
        self.refresh()
        with self._lock:
            index = self.index  # opened (and checked) before the store changes under it
            ids = self.store.delete_document(document_id)
            if ids is None:
                return False
            index.delete_documents([document_id], ids)
            index.save()
        return True

    # reads -----------------------------------------------------------------------------------
    def expand(self, passages: list[RetrievedPassage], sentences: int,
               max_chars: int | None = None) -> list[RetrievedPassage]:
        """Each passage widened by up to `sentences` whole sentences on each side, within its
        document: more context for the reader (pronouns, a sentence cut off by a passage
        boundary). Offsets stay document offsets, so citations are unaffected. Each document
        is read from the store once, however many of its passages are widened. A passage widens
        within its run of text: never into a caption, nor across a line left out, and never
        past `max_chars` (a text of one endless sentence is stored as 1,000-character pieces)."""
        if sentences <= 0:
            return passages
        documents: dict[str, tuple[list[list[tuple[int, int]]], str] | None] = {}
        out = []
        for passage in passages:
            doc_id = passage.document_id
            if doc_id not in documents:
                records = self.store.document_passages(doc_id)
                document = self.store.get_document(doc_id)
                documents[doc_id] = (passage_runs(records, document.text), document.text) \
                    if records and document else None
            found = documents[doc_id]
            run = None if found is None else next(
                (r for r in found[0] if r[0][0] <= passage.start and passage.end <= r[-1][1]), None)
            if found is None or run is None or not passage.sentences:  # deleted meanwhile
                out.append(passage)
                continue
            spans, text = run, found[1]
            first = next(i for i, sp in enumerate(spans) if sp[0] >= passage.start)
            last = max(i for i, sp in enumerate(spans) if sp[1] <= passage.end)
            lo, hi = first, last
            start, end = passage.start, passage.end
            for _ in range(sentences):  # a sentence before, then one after, while they fit
                if lo > 0 and (max_chars is None or end - spans[lo - 1][0] <= max_chars):
                    lo -= 1
                    start = min(spans[lo][0], start)
                if hi < len(spans) - 1 and (max_chars is None or spans[hi + 1][1] - start <= max_chars):
                    hi += 1
                    end = max(spans[hi][1], end)
            out.append(replace(passage, start=start, end=end, text=text[start:end],
                               sentences=tuple(spans[lo : hi + 1])))
        return out

    def sentence_cosines(self, passages: list[RetrievedPassage], vector: np.ndarray
                         ) -> dict[tuple[str, int], float]:
        """Cosine between `vector` (a query) and each sentence of these passages, by (document
        id, sentence start); sentences without a stored vector are absent."""
        keys = list({(p.document_id, start) for p in passages for start, _ in p.sentences})
        stored = self.store.sentence_vectors(keys, self.encoder.name)
        if not stored:
            return {}
        found = list(stored)
        cosines = np.vstack([stored[k] for k in found]) @ vector
        return dict(zip(found, cosines.tolist(), strict=True))

    def sentence_similarity(self, passages: list[RetrievedPassage], vector: np.ndarray
                            ) -> dict[int, float]:
        """Each passage's best cosine between `vector` (a query) and one of its sentences;
        passages whose sentences have no stored vector are absent."""
        cosines = self.sentence_cosines(passages, vector)
        out: dict[int, float] = {}
        for p in passages:
            found = [cosines[k] for start, _ in p.sentences if (k := (p.document_id, start)) in cosines]
            if found:
                out[p.passage_id] = max(found)
        return out

    def superseded_passages(self) -> frozenset[int]:
        """Passages of superseded versions of stories, read again only when the corpus moved."""
        version = self.store.version()
        if self._superseded[0] != version:
            self._superseded = (version, frozenset(self.store.superseded_passage_ids()))
        return self._superseded[1]

    def versions(self, document: DocumentRecord) -> list[DocumentRecord]:
        """Every version of `document`'s story, oldest first ([document] when it has none)."""
        return self.store.versions(document.story_key) if document.story_key else [document]

    def dense_search(self, vector: np.ndarray, k: int,
                     where: IndexFilter | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, cosine) for a normalized query vector."""
        self.refresh()
        with self._lock:
            return self.index.dense_search(vector, k, where)

    def lexical_search(self, query: str, k: int,
                       where: IndexFilter | None = None) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score) for the words of `query`. Not under the corpus
        lock: the FTS5 table is the store's (its own lock), a Milvus client is thread-safe."""
        return self.index.lexical_search(query, k, where)

    # ---- the read API: routers, the CLI, eval and the pipeline read the corpus through these,
    # never through `.store` or `.index`.

    def is_empty(self) -> bool:
        return self.store.is_empty()

    def documents(self) -> list[DocumentRecord]:
        return self.store.list_documents()

    def document(self, document_id: str) -> DocumentRecord | None:
        return self.store.get_document(document_id)

    def document_ids(self) -> list[str]:
        return self.store.document_ids()

    def find_story(self, url: str) -> DocumentRecord | None:
        """The current version of the story keyed `url`, else a document with that URL."""
        return self.store.current_version(url) or self.store.find_by_url(url)

    def passage_count(self) -> int:
        """Passages stored (the index may still be catching up: see `indexed_count`)."""
        return self.store.passage_count()

    def indexed_count(self) -> int:
        return len(self.index)

    def indexed_ids(self) -> set[int]:
        """The passage ids the passage index holds."""
        return self.index.ids()

    def embedded_passage_ids(self) -> set[int]:
        """The stored passages with a vector of this corpus's encoder (what the index should
        hold)."""
        return self.store.embedded_passage_ids(self.encoder.name)

    def passages(self, ids: list[int]) -> dict[int, PassageRecord]:
        return self.store.passages(ids)

    def term_passage_counts(self, terms: list[str]) -> dict[str, int]:
        """How many passages hold each term (the lexical index's document frequencies)."""
        return self.store.term_passage_counts(terms)

    def duplicates(self, document_id: str) -> list[DocumentRecord]:
        """Other members of `document_id`'s near-duplicate group."""
        return self.store.duplicates(document_id)

    def layouts(self, ids: list[str]) -> dict[str, DocumentLayout]:
        return self.store.document_layout(ids)

    def heads(self, ids: list[str], chars: int) -> dict[str, tuple[bool, str]]:
        return self.store.document_heads(ids, chars)

    def naming(self, ids: list[str], names: list[str]) -> dict[str, frozenset[str]]:
        """Which of `names` (lower case) each document's title or text holds."""
        return self.store.documents_naming(ids, names)

    def passage_ids(self, document_ids: list[str] | None = None, published_from: str | None = None,
                    published_to: str | None = None, require_date: bool = False) -> list[int]:
        """Ids of passages of the given documents and/or published in [from, to]."""
        return self.store.passage_ids(document_ids, published_from, published_to, require_date)

    def full_text_search(self, query: str, k: int, allowed: list[int] | None = None
                         ) -> list[tuple[int, float]]:
        """Top-k (passage id, BM25 score) from the store's own full-text index, whatever the
        backend: the cheapest search (no embedding), among `allowed` passages when given."""
        return self.store.lexical_search(query, k, allowed)
