"""Pick the reader configuration that scored best on the held-out training articles.

    python scripts/pick_reader.py RUNS [--pack OUT]

RUNS holds, per configuration NAME, a run NAME-holdout (trained without the held-out articles,
scored on them) and NAME-full (the same settings on all training data). The configuration
with the best mean of held-out F1 (answerable questions) and best-threshold SQuAD v2 F1 wins; its
full run's final weights are the chosen reader. The dev split plays no part in the choice.
--pack writes them in fp16, in parts of at most 15 MB (the GPU machine returns files of at most
16 MiB), with every run's curve and the choice; `cat model.safetensors.part-* > model.safetensors`
joins them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

PART_BYTES = 15 * 1024 * 1024


def last_row(curve: Path) -> dict[str, Any]:
    return dict(json.loads(curve.read_text().splitlines()[-1]))


def choose(runs: Path) -> dict[str, Any]:
    scored = {}
    for held in sorted(runs.glob("*-holdout")):
        name = held.name.removesuffix("-holdout")
        if not (held / "curve.jsonl").exists() or not (runs / f"{name}-full/final/model").exists():
            continue
        row = last_row(held / "curve.jsonl")
        scored[name] = {**row, "score": (row["holdout_f1"] + row["holdout_v2_best_f1"]) / 2}
    if not scored:
        raise SystemExit(f"no finished NAME-holdout / NAME-full pairs under {runs}")
    best = max(scored, key=lambda n: scored[n]["score"])
    return {"chosen": best, "model": str(runs / f"{best}-full/final/model"), "holdout": scored}


def pack(choice: dict[str, Any], runs: Path, out: Path) -> None:
    from safetensors.torch import load_file, save_file

    out.mkdir(parents=True, exist_ok=True)
    model = Path(choice["model"])
    weights = {k: v.half().contiguous() for k, v in load_file(str(model / "model.safetensors")).items()}
    whole = out / "model.safetensors"
    save_file(weights, str(whole), metadata={"format": "pt"})
    data = whole.read_bytes()
    whole.unlink()
    for i in range(0, len(data), PART_BYTES):
        (out / f"model.safetensors.part-{i // PART_BYTES}").write_bytes(data[i : i + PART_BYTES])
    (out / "config.json").write_text((model / "config.json").read_text())
    with (out / "curves.jsonl").open("w") as fh:
        for curve in sorted(runs.glob("*/curve.jsonl")):
            for line in curve.read_text().splitlines():
                fh.write(json.dumps({"run": curve.parent.name, **json.loads(line)}) + "\n")
    (out / "choice.json").write_text(json.dumps(choice, indent=1))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path)
    ap.add_argument("--pack", type=Path, default=None)
    args = ap.parse_args(argv)
    choice = choose(args.runs)
    print(json.dumps(choice, indent=1))
    if args.pack:
        pack(choice, args.runs, args.pack)


if __name__ == "__main__":
    main()
