"""The one settings object. Every field can be set by an environment variable `QA_<NAME>`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    # storage
    data_dir: Path = Field(Path("data"), description="SQLite store and FAISS index live here")

    # the passage index (qa/storage/backends)
    backend: Literal["faiss", "milvus"] = Field(
        "faiss", description="where dense and lexical search run: `faiss` (a FAISS file beside "
        "the SQLite store, BM25 from its FTS5 table) or `milvus` (a Milvus collection: vectors, "
        "BM25 and filters in the engine). Documents and passages stay in SQLite either way; "
        "`qa migrate-index --to milvus` copies an existing index without re-embedding")
    milvus_uri: str | None = Field(
        None, description="the Milvus server (http://host:19530) or a Milvus Lite file (a path "
        "ending in .db); default: Milvus Lite at <data_dir>/milvus.db")
    milvus_token: str | None = Field(
        None, description="Milvus credentials: \"user:password\" or an API key")
    milvus_collection: str = Field("passages", description="the Milvus collection's name")
    milvus_index: Literal["FLAT", "IVF_FLAT", "HNSW"] = Field(
        "FLAT", description="the Milvus vector index: FLAT is exact (as the FAISS backend below "
        "ivf_threshold); IVF_FLAT or HNSW for millions of passages (set when the collection is "
        "created)")

    # security and limits
    api_key: str | None = Field(None, description="when set, writes need `Authorization: Bearer`")
    ask_requires_key: bool = Field(False, description="also require the key for asking")
    max_document_bytes: int = Field(
        5_000_000, description="the most text (UTF-8 bytes, after extraction from HTML) one "
        "document may have; more is refused (413)")
    max_upload_bytes: int = Field(
        20_000_000, description="the largest request body when adding a document, and the "
        "largest file `qa ingest` reads (a saved page is mostly markup)")
    max_request_bytes: int = Field(
        262_144, description="the largest request body of every other route (questions)")
    allowed_origins: list[str] = Field(
        [], description="other sites' origins (e.g. [\"https://newsroom.example\"]) whose pages "
        "may write or ask; every other cross-site browser request is refused")
    max_document_ids: int = Field(
        1_000, description="the most document_ids one question may be restricted to")
    max_question_chars: int = 1000

    # feeds and pages fetched over HTTP (qa/feeds.py)
    fetch_timeout_seconds: float = Field(
        10.0, gt=0, description="the longest a page or feed may take to fetch (connecting, "
        "then the whole body)")
    fetch_max_bytes: int = Field(
        5_000_000, gt=0, description="the largest page or feed fetched; reading stops past it "
        "and the page is refused by name")
    fetch_private_addresses: bool = Field(
        False, description="also fetch URLs whose host is on this machine or a private network "
        "(loopback, 10.x, 192.168.x, link-local...): off, so that a feed or a caller cannot make "
        "the service read internal addresses")
    feed_max_entries: int = Field(
        200, ge=1, description="the most entries of one feed whose pages are fetched; the rest "
        "are reported as failed, so one huge feed cannot hold a request for hours")

    # passages
    sentences_per_passage: int = 4
    passage_overlap: int = 1
    passage_max_chars: int = 1000
    article_structure: bool = Field(
        True, description="type each article's lines at ingest (qa/structure.py): boilerplate "
        "and repeated lines are not indexed, captions make passages of their own (applies to "
        "documents added from now on)")
    detect_duplicates: bool = Field(
        True, description="find near-duplicate articles at ingest (the same wire copy under "
        "another headline or trimmed; MinHash, qa/duplicates.py): an answer lists the others "
        "as also reported by")
    embed_title: bool = Field(
        True, description="prefix each passage with its title when embedding (applies to "
        "passages embedded from now on; a fresh data dir re-embeds everything)")

    # models
    encoder_path: str | None = Field(None, description="sentence-transformers model folder")
    encoder_batch_size: int = Field(
        8, description="texts per encoder call at ingest (8 is faster than 32 in ONNX Runtime "
        "on 2 cores and peaks at half the memory: attention grows with batch x tokens^2)")
    encoder_runtime: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx", description="run the encoder in ONNX Runtime (exported once, the same vectors "
        "as torch), in ONNX Runtime with int8 weights (quantized once; ingest about 1.4x faster, "
        "vectors within a cosine of about 0.99) or in torch")
    model_cache_dir: Path | None = Field(
        None, description="where the encoder's ONNX export is kept (default "
        "~/.cache/pressroom)")
    reader: Literal["neural", "rules"] = "neural"
    reader_path: Path | None = Field(None, description="folder with model.onnx and tokenizer")
    torch_threads: int | None = Field(None, description="threads for torch and the encoder's and reader's"
                                      " ONNX Runtime sessions (default: all cores)")
    max_concurrent_questions: int | None = Field(
        None, ge=1, description="questions worked on at once; more wait their turn (default: "
        "cores + 1: enough to keep every core busy, few enough that request threads do not "
        "queue for Python's interpreter lock with the cores idle)")

    compare_sources: bool = Field(
        True, description="compare what the documents read say: a newer report's value wins "
        "over an older one's, and conflicting values are returned as `disagreement`")
    newer_report_probability: float = Field(
        0.3, ge=0, le=1, description="when comparing sources, also read the best passage "
        "found in a report published on or after the answer's source and not read yet, when "
        "the learned re-scorer gives it at least this probability (a correction or an update may rank "
        "below the passages read; chosen on the tuning stories, eval/RESULTS.md); 1: off")

    # retrieval
    top_k: int = Field(5, description="passages returned with an answer")
    candidates: int = Field(50, description="passages fetched from each retriever before fusion")
    fusion: Literal["rrf", "dense", "lexical"] = "rrf"
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    ivf_threshold: int = Field(
        200_000, ge=1, description="passages from which the FAISS index is IVF, not exact (a "
        "corpus grown past it by adds switches then; a stored exact one when opened)")
    rescorer: Literal["learned", "sentence", "off"] = Field(
        "learned", description="re-score the fused top: `learned` (a logistic model over "
        "passage, sentence and lexical signals, qa/models/ranker), `sentence` (RRF score + "
        "sentence_weight x best sentence cosine) or `off`; both need every sentence embedded at "
        "ingest")
    ranker_path: Path | None = Field(None, description="the learned re-scorer's JSON (default: "
                                     "the shipped qa/models/ranker/ranker.json)")
    sentence_weight: float = Field(
        0.02, ge=0, description="the `sentence` re-scorer's weight on the best sentence cosine "
        "(0 switches that re-scorer off)")
    rescore_candidates: int = Field(20, ge=1, description="fused passages the re-scorer "
                                    "re-orders")
    read_passages: int = Field(3, description="top passages the reader reads")
    reader_retrieval_weight: float = Field(
        1.0, ge=0, description="the neural reader picks its answer by span score + this weight x "
        "the log-odds of the passage's retrieval probability (from the learned re-scorer; 0 = "
        "span score alone)")
    caption_weight: float = Field(
        -2.0, description="added to the reader's score of a span in a photo caption: negative "
        "prefers the report's own text, as event questions need (measured on the news gold "
        "set's tuning articles, eval/RESULTS.md)")
    read_expand_sentences: int = Field(
        0, ge=0, description="widen each passage read by this many sentences on each side, "
        "within its run of text and to at most twice passage_max_chars (measured in "
        "eval/RESULTS.md, session 13: better on the tuning splits, worse on every other set)")
    rerank: Literal["reader", "none"] = Field(
        "reader", description="re-order the passages read by how well the reader finds an answer")

    # answering
    abstain_threshold: float | None = Field(
        None, ge=0, le=1, description="abstain when confidence is below this; unset: the neural "
        "reader's calibrated threshold (calibration.json beside its model), 0.5 for the rules reader")
    min_similarity: float = Field(
        0.1, description="abstain when no passage read has at least this cosine similarity to "
        "the question (off-topic questions)")

    # conversations
    conversation_ttl_hours: float = 24 * 30

    @model_validator(mode="after")
    def _read_within_rescored(self) -> Settings:
        # The reader weighs each passage's re-scored probability; deeper passages have none.
        if self.rescorer == "learned" and self.read_passages > self.rescore_candidates:
            raise ValueError("read_passages must not exceed rescore_candidates")
        return self

    @property
    def rescores(self) -> bool:
        """Whether fused results are re-scored (and so whether sentences are embedded)."""
        if self.fusion != "rrf" or self.rescorer == "off":
            return False
        return self.rescorer == "learned" or self.sentence_weight > 0

    @property
    def reads_newer_reports(self) -> bool:
        """Whether comparing sources also reads a newer report's passage (below 1: on)."""
        return self.compare_sources and self.newer_report_probability < 1

    @property
    def db_path(self) -> Path:
        return self.data_dir / "qa.sqlite3"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "passages.faiss"

    @property
    def milvus_address(self) -> str:
        """The Milvus URI in use (Milvus Lite in the data dir unless one is set)."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")


@functools.cache
def get_settings() -> Settings:
    """The environment's settings, read once per process (tests that change QA_* clear this
    cache). The API reads them when its app starts and keeps them on `app.state`; the CLI, `qa
    mcp` and eval build what they need from them."""
    return Settings()
