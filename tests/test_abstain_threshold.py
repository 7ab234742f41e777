"""The abstention threshold: QA_ABSTAIN_THRESHOLD when set, else the one calibrated for the
reader in use (calibration.json beside the neural reader's model; 0.5 for the rule extractor)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval.training.calibrate_reader import carry_threshold, fit_platt
from qa.reader import DEFAULT_READER_DIR, NeuralReader, WindowSpan, sigmoid
from qa.service import QAService, abstain_threshold
from qa.settings import Settings
from qa.span_decoding import SpanCandidate
from qa.types import AnswerSpan, ReaderResult, RetrievedPassage


def model_dir(tmp_path: Path, threshold: float | None) -> Path:
    """A reader folder as far as the threshold is concerned (no weights are loaded)."""
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"")
    if threshold is not None:
        (folder / "calibration.json").write_text(json.dumps({"abstain_threshold": threshold}))
    return folder


def test_calibrated_threshold_is_read_from_the_model_folder(tmp_path: Path) -> None:
    assert NeuralReader(model_dir(tmp_path, 0.85)).abstain_threshold == 0.85


def test_uncalibrated_model_keeps_one_half(tmp_path: Path) -> None:
    assert NeuralReader(model_dir(tmp_path, None)).abstain_threshold == 0.5


def test_shipped_threshold_is_its_raw_threshold_carried_over() -> None:
    if not (DEFAULT_READER_DIR / "model.onnx").exists():
        pytest.skip("no trained reader shipped")
    recorded = json.loads((DEFAULT_READER_DIR / "calibration.json").read_text())
    carried = carry_threshold(recorded["raw_threshold"], recorded["slope"], recorded["bias"])
    assert recorded["abstain_threshold"] == pytest.approx(carried, abs=1e-12)
    assert 0.0 < NeuralReader().abstain_threshold < 1.0


def test_carried_threshold_answers_the_same_questions() -> None:
    gaps = np.random.default_rng(1).normal(2.0, 8.0, 5000)
    slope, bias, raw = 0.103241, -1.386658, 0.9
    threshold = carry_threshold(raw, slope, bias)
    before = [sigmoid(g) >= raw for g in gaps]
    after = [sigmoid(slope * g + bias) >= threshold for g in gaps]
    assert before == after and 0 < sum(after) < len(after)


def test_setting_wins_then_reader(tmp_path: Path) -> None:
    folder = model_dir(tmp_path, 0.85)
    neural = Settings(data_dir=tmp_path, reader="neural", reader_path=folder)
    assert abstain_threshold(neural) == 0.85
    assert abstain_threshold(neural.model_copy(update={"abstain_threshold": 0.3})) == 0.3
    assert abstain_threshold(neural.model_copy(update={"reader": "rules"})) == 0.5
    # a neural setting with no model falls back to the rule extractor, and to its threshold
    missing = neural.model_copy(update={"reader_path": tmp_path / "nowhere"})
    assert abstain_threshold(missing) == 0.5


@pytest.mark.parametrize(("confidence", "answered"), [(0.84, False), (0.85, True)])
def test_compose_abstains_below_the_calibrated_threshold(
    tmp_path: Path, confidence: float, answered: bool
) -> None:
    settings = Settings(data_dir=tmp_path, reader="neural", reader_path=model_dir(tmp_path, 0.85))
    text = "They met in Turkey last week."
    passage = RetrievedPassage(1, "doc", "Meeting", 0, len(text), text, 1.0, ((0, len(text)),))
    span = AnswerSpan("doc", 1, 12, 18, 0, len(text), 5.0)
    service = QAService(settings)
    try:
        answer = service.compose("Where did they meet?", ReaderResult(span, confidence, 0.0),
                                 [passage], {})
    finally:
        service.close()
    assert (answer.answer == "Turkey") is answered


def test_reader_confidence_follows_the_fitted_slope_and_bias(tmp_path: Path) -> None:
    folder = model_dir(tmp_path, 0.3)
    recorded = json.loads((folder / "calibration.json").read_text())
    (folder / "calibration.json").write_text(json.dumps({**recorded, "slope": 0.5, "bias": -1.0}))
    found = WindowSpan(0, SpanCandidate(0, 6, 7.0), null=3.0)  # gap 4
    assert NeuralReader(folder).confidence(found) == pytest.approx(sigmoid(0.5 * 4 - 1.0))
    # without a fitted scale the confidence is the plain sigmoid of the gap
    (tmp_path / "plain").mkdir()
    assert NeuralReader(model_dir(tmp_path / "plain", None)).confidence(found) == pytest.approx(
        sigmoid(4.0))


def test_platt_fit_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    gaps = rng.uniform(-20, 20, 20000)
    right = (rng.uniform(size=gaps.size) < 1 / (1 + np.exp(-(0.2 * gaps - 1.0)))).astype(float)
    slope, bias = fit_platt(gaps, right)
    assert slope == pytest.approx(0.2, abs=0.02) and bias == pytest.approx(-1.0, abs=0.1)
