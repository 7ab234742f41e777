"""Average the weights of reader checkpoints fine-tuned from the same base (a uniform "model
soup"): one model, so no extra inference cost, usually better than either alone.

    .venv/bin/python scripts/average_readers.py runs/reader2/final/model runs/gpu1/model --out runs/soup/model
then `scripts/export_reader.py runs/soup/model`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def average(checkpoints: list[Path], out: Path) -> None:
    states = [load_file(str(c / "model.safetensors")) for c in checkpoints]
    keys = set(states[0])
    for c, state in zip(checkpoints[1:], states[1:], strict=True):
        if set(state) != keys:
            raise SystemExit(f"{c}: different weights ({sorted(set(state) ^ keys)[:5]} ...)")
    out.mkdir(parents=True, exist_ok=True)
    averaged = {k: torch.stack([s[k].float() for s in states]).mean(dim=0) for k in sorted(keys)}
    save_file({k: v.contiguous() for k, v in averaged.items()}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(checkpoints[0] / name, out / name)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", type=Path, nargs="+", help="saved model folders (…/model)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    average(args.checkpoints, args.out)
    print(f"wrote {args.out}/model.safetensors (mean of {len(args.checkpoints)})")


if __name__ == "__main__":
    main()
