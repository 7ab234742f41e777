"""The GPU training helpers: choosing a configuration on held-out training articles, packing its
weights into parts small enough to travel, and the held-out articles themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from eval.splits import dev_titles
from eval.training import average_readers, pick_reader, recover_reader, train_reader

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def fake_run(runs: Path, name: str, f1: float, v2: float, full: bool = True) -> None:
    held = runs / f"{name}-holdout"
    held.mkdir(parents=True)
    rows = [{"step": 1, "holdout_f1": 10.0, "holdout_v2_best_f1": 10.0},
            {"step": 2, "holdout_f1": f1, "holdout_v2_best_f1": v2}]
    (held / "curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if full:
        model = runs / f"{name}-full" / "final" / "model"
        model.mkdir(parents=True)
        save_file({"w": torch.full((64, 64), f1), "b": torch.arange(5.0)},
                  str(model / "model.safetensors"))
        (model / "config.json").write_text("{}")
        (runs / f"{name}-full" / "curve.jsonl").write_text(json.dumps({"step": 2}) + "\n")


def test_choice_is_the_best_mean_of_the_last_held_out_scores(tmp_path: Path) -> None:
    fake_run(tmp_path, "a", f1=70.0, v2=50.0)   # mean 60
    fake_run(tmp_path, "b", f1=66.0, v2=58.0)   # mean 62: wins
    fake_run(tmp_path, "c", f1=90.0, v2=90.0, full=False)  # no full run: not a candidate
    choice = pick_reader.choose(tmp_path)
    assert choice["chosen"] == "b"
    assert set(choice["holdout"]) == {"a", "b"}
    assert choice["model"].endswith("b-full/final/model")


def test_packed_parts_join_into_the_chosen_weights_in_fp16(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(tmp_path / "runs", "a", f1=70.0, v2=50.0)
    monkeypatch.setattr(pick_reader, "PART_BYTES", 3000)  # force several parts
    out = tmp_path / "pack"
    pick_reader.pack(pick_reader.choose(tmp_path / "runs"), tmp_path / "runs", out)
    parts = sorted(out.glob("model.safetensors.part-*"), key=lambda p: int(p.name.split("-")[-1]))
    assert len(parts) > 1 and all(p.stat().st_size <= 3000 for p in parts)
    (tmp_path / "joined.safetensors").write_bytes(b"".join(p.read_bytes() for p in parts))
    weights = load_file(str(tmp_path / "joined.safetensors"))
    assert weights["w"].dtype == torch.float16 and float(weights["w"][0, 0]) == 70.0
    assert torch.equal(weights["b"].float(), torch.arange(5.0))
    runs = [json.loads(line)["run"] for line in (out / "curves.jsonl").read_text().splitlines()]
    assert runs == ["a-full", "a-holdout", "a-holdout"]


def test_average_of_readers_is_the_mean_of_their_weights(tmp_path: Path) -> None:
    folders = []
    for i, value in enumerate((1.0, 3.0)):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        save_file({"w": torch.full((2, 2), value)}, str(folder / "model.safetensors"))
        for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            (folder / name).write_text("{}")
        folders.append(folder)
    average_readers.average(folders, tmp_path / "soup")
    assert torch.equal(load_file(str(tmp_path / "soup" / "model.safetensors"))["w"],
                       torch.full((2, 2), 2.0))


@pytest.mark.skipif(not (DATA / "squad" / "dev-v1.1.json").exists(), reason="needs ../shared/data")
def test_held_out_articles_come_from_the_training_side() -> None:
    held = train_reader.holdout_titles(DATA, 4)
    assert len(set(held)) == 4
    assert not set(held) & set(dev_titles(DATA / "squad" / "dev-v1.1.json"))
    rows = train_reader.training_rows(DATA, held)
    contexts = {r["context"] for r in rows}
    held_rows = train_reader.flatten([a for a in json.loads(
        (DATA / "squad" / "dev-v1.1.json").read_text())["data"] if a["title"] in held])
    assert held_rows and not {r["context"] for r in held_rows} & contexts


def test_clock_schedule_ramps_then_decays_to_zero() -> None:
    factor = train_reader.clock_factor
    assert factor(0.0, 0.06) == 0.0
    assert factor(0.03, 0.06) == pytest.approx(0.5 * 0.97)
    assert factor(0.06, 0.06) == pytest.approx(0.94)  # the peak: ramp done, decay begun
    assert factor(0.5, 0.06) == pytest.approx(0.5)
    assert factor(1.0, 0.06) == 0.0 and factor(1.2, 0.06) == 0.0
    assert factor(0.0, 0.0) == 1.0  # no warmup


def test_recovered_weights_give_the_shipped_readers_logits(tmp_path: Path) -> None:
    from transformers import AutoModelForQuestionAnswering

    from qa.reader import DEFAULT_READER_DIR, NeuralReader

    recover_reader.main([str(DEFAULT_READER_DIR), str(tmp_path / "model")])
    model = AutoModelForQuestionAnswering.from_pretrained(str(tmp_path / "model")).eval()
    reader = NeuralReader()
    context = ("Khaled Mashaal and Iran's al-Quds Force commander Qassem Soleimani held a meeting "
               "in Turkey several days after the conflict ended in late August, Saudi daily "
               "Al-Hayat reported.")
    enc, starts, ends = reader.logits("Where did they meet?", [context])
    with torch.no_grad():
        out = model(**{k: torch.tensor(enc[k]) for k in ("input_ids", "attention_mask",
                                                          "token_type_ids")})
    n = int(enc["attention_mask"][0].sum())
    for ours, shipped in ((out.start_logits[0, :n], starts[0, :n]), (out.end_logits[0, :n], ends[0, :n])):
        assert int(ours.argmax()) == int(shipped.argmax())
        assert torch.corrcoef(torch.stack([ours, torch.tensor(shipped)]))[0, 1] > 0.98
