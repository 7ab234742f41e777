"""Small numeric helpers shared by the stages (the reader's calibration, the re-scorer's
probabilities), so that neither imports the other for them."""

from __future__ import annotations

import math


def sigmoid(x: float) -> float:
    """The logistic function, its argument clipped to +-60 so exp() never overflows."""
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))
