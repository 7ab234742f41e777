"""The short forms of the durability and load drills (`qa drill crash|load`; `--long` is the
full form): real processes, SIGKILL, a real server on loopback."""

from __future__ import annotations

from pathlib import Path

from eval.drill import run_crash_drill, run_load_drill


def test_kill_9_during_writes_loses_no_acknowledged_change(tmp_path: Path) -> None:
    report = run_crash_drill(tmp_path, writers=2, rounds=2, seed=1)
    assert report.kills == 4 and report.acknowledged_adds > 0
    assert report.missing == [] and report.resurrected == []
    assert report.index_matches_store


def test_askers_and_a_writer_at_once_get_no_errors(tmp_path: Path) -> None:
    result = run_load_drill(tmp_path, clients=4, seconds=8)
    assert result["errors"] == 0, result["error_kinds"]
    assert result["questions"] > 0 and result["added"] > 0 and result["consistent"]
