"""Command line of eval/training/calibrate_reader.py (`--help` says what it does)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, not installed
from eval.training.calibrate_reader import main  # noqa: E402

if __name__ == "__main__":
    main()
