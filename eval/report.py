"""Summaries, Markdown reports and plots (PNG, matplotlib's Agg backend) of evaluation runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PLOT_FILES = {
    "f1_by_type": "f1_by_type.png",
    "reliability": "reliability.png",
    "latency": "latency.png",
}


# --------------------------------------------------------------------------- statistics


def summarize_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max of timings (linear-interpolated percentiles); zeros for none."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0, "max": 0.0, "count": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "mean": round(float(arr.mean()), 2),
        "max": round(float(arr.max()), 2),
        "count": len(values),
    }


def stage_summary(timings: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per-stage summaries over per-question stage timings (a stage absent from a question is
    left out of that stage's numbers, not counted as 0)."""
    names: list[str] = []
    for t in timings:
        names.extend(n for n in t if n not in names)
    return {n: summarize_ms([t[n] for t in timings if n in t]) for n in names}


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_f1_by_type(by_type: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Bar chart of F1 per question type, with the question count on each bar."""
    plt = _pyplot()
    names = list(by_type)
    values = [by_type[n]["f1"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.bar(names, values, color="#4C72B0")
    for bar, name in zip(bars, names, strict=True):
        ax.annotate(f"n={int(by_type[name]['count'])}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("F1")
    ax.set_title("F1 by question type")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(bins: Sequence[Mapping[str, Any]], path: Path, ece: float) -> Path:
    """Reliability diagram: accuracy per confidence bin against the diagonal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    width = bins[0]["upper"] - bins[0]["lower"] if bins else 0.1
    for b in bins:
        if b["count"]:
            ax.bar(b["lower"], b["accuracy"], width=width, align="edge", color="#4C72B0",
                   edgecolor="white")
            ax.annotate(str(b["count"]), (b["lower"] + width / 2, b["accuracy"]),
                        ha="center", va="bottom", fontsize=7)
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence")
    ax.set_ylabel("share correct (exact match)")
    ax.set_title(f"Reliability (ECE {ece:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(latencies_ms: Sequence[float], path: Path, title: str = "Latency per question"
                 ) -> Path:
    """Histogram of per-question latency with p50/p95 marks."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if latencies_ms:
        ax.hist(latencies_ms, bins=min(40, max(5, len(latencies_ms) // 3)), color="#4C72B0")
        s = summarize_ms(latencies_ms)
        for name, style in (("p50", "-"), ("p95", "--")):
            ax.axvline(s[name], color="black", linestyle=style, linewidth=1,
                       label=f"{name} {s[name]:.0f} ms")
        ax.legend()
    ax.set_xlabel("ms")
    ax.set_ylabel("questions")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- Markdown


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in rows]
    return lines


def squad_report(metrics: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    """The Markdown report of one `qa eval squad` run (one mode)."""
    a = metrics["answer"]
    c = metrics["calibration"]
    lines = [
        f"# SQuAD evaluation: {metrics['file']} ({metrics['mode']} mode)",
        "",
        f"- reader: `{metrics['reader']}`, fusion: `{metrics['fusion']}`, "
        f"abstain threshold (confidence): {metrics['abstain_threshold']}",
        f"- questions: {metrics['questions']} of {metrics['questions_in_file']}"
        + (f" (seeded sample, seed {metrics['seed']})" if metrics["sampled"] else ""),
        f"- command: `{metrics['command']}`",
        "",
        "## Answers (official SQuAD metric, abstention applied as the product does)",
        "",
    ]
    rows = [["all", a["exact"], a["f1"], a["total"]]]
    if "HasAns_total" in a:
        rows.append(["answerable", a["HasAns_exact"], a["HasAns_f1"], a["HasAns_total"]])
    if "NoAns_total" in a:
        rows.append(["unanswerable (accuracy)", a["NoAns_exact"], a["NoAns_f1"], a["NoAns_total"]])
    lines += _table(["questions", "EM", "F1", "n"], rows)
    lines += [
        "",
        f"Best threshold over `na_probs.json` on these predictions: EM {a['best_exact']:.1f} "
        f"(na_prob <= {a['best_exact_thresh']:.4f}), F1 {a['best_f1']:.1f} "
        f"(na_prob <= {a['best_f1_thresh']:.4f}).",
        "",
        "## Abstention calibration",
        "",
        "Raw spans (the reader's best span, never abstaining) swept over their no-answer "
        "probability, as the official `find_best_thresh`. Both readers report "
        "`confidence = 1 - no_answer_probability`, and the product answers when "
        "`confidence >= QA_ABSTAIN_THRESHOLD`; the official metric answers when "
        "`na_prob <= t`, so a threshold `t` corresponds to `QA_ABSTAIN_THRESHOLD = 1 - t`. "
        "The recommended value is found by the same sweep in confidence terms (questions of "
        "equal confidence taken together), and the F1 it gives is recomputed with the "
        "official metric. \"never\" means abstaining everywhere scores best.",
        "",
    ]
    lines += _table(
        ["", "value"],
        [
            ["raw spans EM / F1 (never abstain)",
             f"{c['raw']['exact']:.1f} / {c['raw']['f1']:.1f}"],
            ["best F1 / its na_prob threshold t",
             f"{c['best_f1']:.1f} / {c['best_f1_thresh']:.4f}"],
            ["best EM / its na_prob threshold", f"{c['best_exact']:.1f} / "
                                                 f"{c['best_exact_thresh']:.4f}"],
            ["1 - t (best F1)", _fmt(c["one_minus_best_f1_thresh"], 4)],
            ["recommended QA_ABSTAIN_THRESHOLD",
             "never" if c["recommended_abstain_threshold"] is None
             else _fmt(c["recommended_abstain_threshold"], 4)],
            ["questions answered at it", c["answered_at_recommended"]],
            ["F1 at the recommended threshold", _fmt(c["f1_at_recommended"])],
            ["expected calibration error (EM, 10 bins)", _fmt(c["ece"], 3)],
        ],
    )
    r = metrics.get("retrieval")
    if r:
        lines += ["", "## Retrieval (passage containing a gold answer span, by offsets)", ""]
        lines += _table(["Recall@1 %", "Recall@5 %", "Recall@10 %", "MRR@10", "questions"],
                        [[r["recall@1"], r["recall@5"], r["recall@10"], f"{r['mrr@10']:.3f}",
                          r["questions"]]])
    ct = metrics["citations"]
    lines += ["", "## Citations", ""]
    lines += _table(
        ["", "value"],
        [
            ["answered questions", ct["answered"]],
            ["citation precision (cited answer overlaps a gold span), all answered",
             ct["precision"]],
            ["citation precision, answerable questions answered", ct["precision_hasans"]],
            ["answers checked against stored text at their offsets", ct["offsets_checked"]],
            ["offset mismatches (must be 0)", ct["offset_mismatches"]],
        ],
    )
    lat = metrics["latency_ms"]
    lines += ["", "## Latency (ms per question)", ""]
    stage_rows = [["total", lat["total"]["p50"], lat["total"]["p95"], lat["total"]["mean"]]]
    stage_rows += [[f"stage `{n}`", s["p50"], s["p95"], s["mean"]]
                   for n, s in lat["stages"].items()]
    lines += _table(["", "p50", "p95", "mean"], stage_rows)
    if metrics["mode"] == "corpus":
        lines += ["", "`retrieve` contains `embed_query`, `dense_search`, `lexical_search` and "
                      "`fuse`."]
    lines += ["", "## By question type", ""]
    lines += _table(["type", "n", "EM", "F1"],
                    [[t, v["count"], v["exact"], v["f1"]] for t, v in metrics["by_type"].items()])
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in plots.items()]
    return "\n".join(lines) + "\n"


def write_squad_report(out_dir: Path, metrics: Mapping[str, Any],
                       latencies_ms: Sequence[float]) -> list[Path]:
    """Write report.md and the plots into `out_dir`; returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        plot_f1_by_type(metrics["by_type"], out_dir / PLOT_FILES["f1_by_type"]),
        plot_reliability(metrics["calibration"]["bins"], out_dir / PLOT_FILES["reliability"],
                         metrics["calibration"]["ece"]),
        plot_latency(latencies_ms, out_dir / PLOT_FILES["latency"]),
    ]
    report = out_dir / "report.md"
    report.write_text(squad_report(metrics, PLOT_FILES), encoding="utf-8")
    written.append(report)
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def beir_report(metrics: Mapping[str, Any]) -> str:
    """The Markdown report of one `qa eval beir` run."""
    lines = [
        f"# BEIR retrieval: {metrics['dataset']}",
        "",
        f"- queries: {metrics['queries']} of {metrics['queries_in_split']} "
        f"(split `{metrics['split']}`), documents indexed: {metrics['documents_indexed']} "
        f"of {metrics['documents_in_corpus']}, passages: {metrics['passages']}",
        f"- command: `{metrics['command']}`",
    ]
    if metrics["documents_indexed"] < metrics["documents_in_corpus"]:
        lines.append("- SMOKE RUN: the corpus was cut down (--max-docs); numbers are not "
                     "comparable with published BEIR results.")
    lines += ["", ""]
    rows = [[f, r["ndcg@10"], r["recall@10"], r["recall@100"], r["mrr@10"],
             r["latency_ms"]["p50"], r["latency_ms"]["p95"]]
            for f, r in metrics["rows"].items()]
    lines += _table(["fusion", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms",
                     "p95 ms"], rows, digits=3)
    return "\n".join(lines) + "\n"
