"""Export a trained reader checkpoint to ONNX, int8-quantized per channel, into qa/models/reader.

    .venv/bin/python scripts/export_reader.py runs/reader/final/model
Per-channel weight quantization keeps F1 within about a point of fp32; per-tensor loses 4-6.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "qa" / "models" / "reader"


class _Logits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


def export(checkpoint: Path, out_dir: Path, quantize: bool = True) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # float32 even when the checkpoint was saved in fp16 (GPU runs keep fp16 epoch weights)
    model = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    sample = tokenizer("Where?", "In Turkey.", return_tensors="pt")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        torch.onnx.export(
            _Logits(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["start_logits", "end_logits"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in
                          ("input_ids", "attention_mask", "token_type_ids", "start_logits",
                           "end_logits")},
            opset_version=17,
            dynamo=False,
        )
        target = out_dir / "model.onnx"
        if quantize:
            quantize_dynamic(str(fp32), str(target), per_channel=True, weight_type=QuantType.QInt8)
        else:
            shutil.copy(fp32, target)
    tokenizer.save_pretrained(str(out_dir))
    model.config.save_pretrained(str(out_dir))
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", type=Path, help="a saved model folder (…/model)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--fp32", action="store_true", help="skip int8 quantization")
    args = ap.parse_args()
    path = export(args.checkpoint, args.out, quantize=not args.fp32)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
