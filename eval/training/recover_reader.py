"""Recover float32 torch weights from a shipped reader's int8 ONNX file, to train it further.

The shipped reader (qa/models/reader/model.onnx) was exported from torch and quantized to int8
per channel; its torch weights were not kept. Each quantized weight is dequantized
((q - zero point) x scale), mapped back to its parameter by the module path in the node's name
(`/model/bert/encoder/layer.0/attention/self/query/MatMul_quant` ->
`bert.encoder.layer.0.attention.self.query.weight`) and transposed (ONNX MatMul holds
[in, out]); float initializers (biases, LayerNorm) keep their names. The result is a
transformers folder that `scripts/train_reader.py --init` starts from: the quantization error
(under 1 F1, MODELS.md) is trained away with the rest.

    .venv/bin/python scripts/recover_reader.py qa/models/reader runs/reader-recovered
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import AutoConfig, AutoModelForQuestionAnswering

PREFIX = "model."


def dequantized(inits: dict[str, np.ndarray], name: str) -> np.ndarray:
    base = name.removesuffix("_quantized")
    q = inits[name].astype(np.float32)
    scale = inits[f"{base}_scale"].astype(np.float32)
    zero = inits[f"{base}_zero_point"].astype(np.float32)
    return (q - zero) * scale


def recovered_state(path: Path) -> dict[str, torch.Tensor]:
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for name, value in inits.items():
        if name.startswith(PREFIX) and value.dtype == np.float32 and not name.endswith("_scale"):
            state[name.removeprefix(PREFIX)] = torch.from_numpy(value.copy())
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            module = node.name.removeprefix("/model/").rsplit("/", 1)[0].replace("/", ".")
            weight = dequantized(inits, node.input[1])  # [in, out] per output channel
            state[f"{module}.weight"] = torch.from_numpy(np.ascontiguousarray(weight.T))
        elif node.op_type == "DequantizeLinear" and node.input[0].endswith("Gather_output_0_quantized"):
            param = node.input[1].removesuffix("_scale").removeprefix(PREFIX)
            table = inits[f"{PREFIX}{param}_quantized"] if f"{PREFIX}{param}_quantized" in inits \
                else inits[f"{PREFIX}{param}"]
            scale = inits[node.input[1]].astype(np.float32)
            zero = inits[node.input[2]].astype(np.float32)
            state[param] = torch.from_numpy((table.astype(np.float32) - zero) * scale)
    return state


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reader", type=Path, help="folder with model.onnx, config.json, tokenizer")
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    config = AutoConfig.from_pretrained(str(args.reader))
    model = AutoModelForQuestionAnswering.from_config(config)
    state = recovered_state(args.reader / "model.onnx")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights not recovered: missing {missing}, unexpected {unexpected}")
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    for f in args.reader.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("vocab.txt", "special_tokens_map.json"):
            shutil.copy(f, args.out / f.name)
    print(f"recovered {len(state)} tensors into {args.out}")


if __name__ == "__main__":
    main()
