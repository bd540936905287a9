"""The labelled sentiment sentences (`backend/text/data`, described in its README): a training file
and a held-out file that share no sentence. The built-in sentiment classifier is fitted and
measured on them; the learning page fine-tunes heads on them."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "text" / "data"
TRAIN_FILE = DATA_DIR / "sentiment_train.csv"
HELDOUT_FILE = DATA_DIR / "sentiment_heldout.csv"
LABELS = ("positive", "negative")


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    source: str


def read_rows(path: Path) -> list[Row]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [Row(r["text"], r["label"], r["source"]) for r in csv.DictReader(handle)]
