"""The fixed train/dev split of the reader issue, defined once.

Dev: the last 10 articles (file order) of SQuAD v1.1 dev, and the SQuAD v2.0 dev questions on
those titles. Train: the other 38 articles of v1.1 dev, the v2.0 dev questions on those titles,
and SQuADShifts Reddit and Amazon.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEV_ARTICLE_COUNT = 10


def load_squad(path: Path) -> list[dict[str, Any]]:
    """Articles (`data` list) of a SQuAD-format file."""
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["data"])


def dev_titles(squad_v11_dev: Path) -> list[str]:
    """Titles of the reader dev split, in file order."""
    return [a["title"] for a in load_squad(squad_v11_dev)[-DEV_ARTICLE_COUNT:]]


def split_articles(
    articles: list[dict[str, Any]], titles: list[str], keep: bool
) -> list[dict[str, Any]]:
    """Articles whose title is (keep=True) or is not (keep=False) in `titles`."""
    wanted = set(titles)
    return [a for a in articles if (a["title"] in wanted) == keep]


def holdout_titles(squad_v11_dev: Path, count: int) -> list[str]:
    """`count` training articles of the SQuAD v1.1 dev file, spread evenly over it, held out
    from reader training to compare settings and fit the threshold: choices made there never
    look at the dev split."""
    dev = set(dev_titles(squad_v11_dev))
    train = [a["title"] for a in load_squad(squad_v11_dev) if a["title"] not in dev]
    if count <= 0:
        return []
    step = len(train) / count
    return [train[int(i * step + step / 2)] for i in range(count)]
