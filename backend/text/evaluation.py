"""Batch classification of an uploaded CSV, and evaluation against its labels: accuracy,
precision, recall and F1 per label, macro-F1 and the confusion matrix.

Every file a user can upload gets rows or a clear message: empty, not text, not UTF-8 (read as
Windows-1252 with a notice), not CSV, no rows, too many rows (refused, never silently cut).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.shared.language import t

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
TEXT_COLUMN_NAMES = ("text", "sentence", "review", "content", "comment", "message")
LABEL_COLUMN_NAMES = ("label", "labels", "gold", "category", "class", "sentiment", "target")


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # every cell a string
    notes: tuple[str, ...]  # how it was read (encoding, delimiter), in the current language


def read_table(data: bytes, max_rows: int | None = None) -> Table:
    """A CSV upload as a table of strings, or an `InputError` that says what is wrong."""
    max_rows = min(MAX_ROWS, limits().csv_rows) if max_rows is None else max_rows
    if not data.strip():
        raise InputError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(
            "The file is {size:.1f} MB; the limit is {most:.0f} MB.", size=len(data) / 1e6, most=MAX_UPLOAD_BYTES / 1e6
        )
    if data[:4] in (b"PK\x03\x04", b"%PDF") or b"\x00" in data[:4096]:
        raise InputError(
            "This is not a text CSV file (it looks like a spreadsheet or another binary file). "
            "Save it as 'CSV UTF-8' and upload that."
        )
    notes = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        notes.append(t("the file is not UTF-8; it was read as Windows-1252 (save as 'CSV UTF-8' to be sure)"))
    try:
        dialect = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if delimiter == "\t":
        notes.append(t("columns separated by a tab"))
    elif delimiter != ",":
        notes.append(t("columns separated by {delimiter}", delimiter=repr(delimiter)))
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True,
            on_bad_lines="error", engine="python",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise InputError("Could not read the file as CSV: {reason}", reason=str(exc).splitlines()[0]) from None
    frame.columns = [str(c).strip() or t("column {number}", number=i + 1) for i, c in enumerate(frame.columns)]
    if frame.empty:
        raise InputError("The CSV has a header but no rows.")
    if len(frame) > max_rows:
        raise InputError(
            "The CSV has {count:,} rows; at most {most:,} are classified at once. Split the file, or keep the "
            "rows you need.", count=len(frame), most=max_rows,
        )
    return Table(frame, tuple(notes))


def guess_column(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def align_labels(gold: Sequence[str], labels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Gold labels matched to the classifier's spelling (case-insensitive); notes for the rest."""
    by_lower = {label.lower(): label for label in labels}
    aligned = [by_lower.get(g.strip().lower(), g.strip()) for g in gold]
    unknown = sorted({g for g in aligned if g and g not in labels})
    notes = []
    if unknown:
        shown = ", ".join(f"'{u}'" for u in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        notes.append(t("labels the classifier does not have ({labels}) count as wrong predictions", labels=shown))
    return aligned, notes


@dataclass(frozen=True)
class Metrics:
    labels: list[str]  # rows/columns of the confusion matrix, and of the per-label numbers
    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # gold rows per label
    confusion: np.ndarray  # [gold label, predicted label] counts
    n: int

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean()) if len(self.f1) else 0.0

    def per_label(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"label": self.labels, "precision": self.precision, "recall": self.recall,
             "f1": self.f1, "support": self.support}
        )

    def as_dict(self) -> dict:
        return {
            "rows": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
            "per_label": self.per_label().to_dict(orient="records"),
            "confusion_matrix": {"labels": self.labels, "rows_gold_columns_predicted": self.confusion.tolist()},
        }


def evaluate(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = ()) -> Metrics:
    """Metrics over the rows that have a gold label. `labels` fixes the order; labels only seen
    in the data are added after them; labels in neither are left out (scikit-learn's default
    set). A label never predicted has precision 0 (scikit-learn's zero_division=0)."""
    pairs = [(g, p) for g, p in zip(gold, predicted, strict=True) if g]
    if not pairs:
        raise InputError("No row has a label to compare with: choose the label column, or leave it out.")
    seen = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    order = [label for label in labels if label in seen] + [s for s in seen if s not in labels]
    index = {label: i for i, label in enumerate(order)}
    confusion = np.zeros((len(order), len(order)), dtype=np.int64)
    for g, p in pairs:
        confusion[index[g], index[p]] += 1
    true_positive = np.diag(confusion).astype(np.float64)
    predicted_count = confusion.sum(axis=0).astype(np.float64)
    support = confusion.sum(axis=1)
    precision = np.divide(true_positive, predicted_count, out=np.zeros_like(true_positive), where=predicted_count > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(both), where=both > 0)
    return Metrics(order, float(true_positive.sum() / len(pairs)), precision, recall, f1, support, confusion, len(pairs))
