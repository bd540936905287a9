"""The classification page's larger sections: the teaching table, the explanation, the batch.

Kept out of the page script so that it reads top to bottom as: inputs -> answer -> why -> batch.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from backend.room.questions import label_question
from backend.runtime.errors import InputError
from backend.runtime.public_mode import limits
from backend.shared.language import current, n_, t
from backend.shared.token_attributions import MAX_STEPS, METHOD_NAMES
from backend.text.classify import (
    MAX_TEXTS,
    Classification,
    submit_classify_many,
)
from backend.text.evaluation import (
    LABEL_COLUMN_NAMES,
    MAX_ROWS,
    TEXT_COLUMN_NAMES,
    Table,
    align_labels,
    evaluate,
    guess_column,
    read_table,
)
from backend.text.explain_text import TextExplanation
from backend.text.specs import ClassifierSpec
from backend.text.teaching import MAX_EXAMPLES, TeachingSet, teaching_set
from backend.text.text_figures import (
    attribution_bars,
    confusion_heatmap,
    deletion_curves,
    shown_tokens,
    tokens_html,
)
from ui.classify import request
from ui.classify.inputs import EXAMPLES_KEY, dump_examples
from ui.core.downloads import chart, table_downloads
from ui.core.jobs import await_job, mine, remembered
from ui.core.markdown import plain
from ui.room.ask import ask_the_room

NO_LABEL_COLUMN = "(none)"  # the label column's first option (its value; shown translated)


def _sentence(note: str) -> str:
    """A note of the backend's ("1 row … left out") as a sentence of its own."""
    return t("{note}.", note=note[:1].upper() + note[1:])


def teaching_table() -> TeachingSet | None:
    """The editable table of examples (and a CSV to fill it); the checked set, or None with a
    message when it cannot be used yet."""
    rows = st.session_state[EXAMPLES_KEY]
    editor_key = st.session_state.get("classify_editor_key")
    if editor_key is None or editor_key not in st.session_state:
        # A fresh editor (first visit, back from another page, or new rows loaded): it starts from
        # the latest rows. While it is on screen its base stays fixed and it holds the edits.
        digest = hashlib.sha256(dump_examples(rows).encode()).hexdigest()[:12]
        editor_key = st.session_state["classify_editor_key"] = f"classify_editor_{digest}"
        st.session_state["classify_editor_base"] = rows
    base = pd.DataFrame(st.session_state["classify_editor_base"], columns=["text", "label"])
    edited = st.data_editor(
        base, key=editor_key, num_rows="dynamic", hide_index=True, width="stretch",
        column_config={
            "text": st.column_config.TextColumn(t("Example sentence"), width="large"),
            "label": st.column_config.TextColumn(t("Label"), width="small"),
        },
    )
    current = [[str(text or "").strip(), str(lab or "").strip()] for text, lab in edited[["text", "label"]].itertuples(index=False)]
    st.session_state[EXAMPLES_KEY] = [r for r in current if r[0] or r[1]]
    upload = st.file_uploader(
        t("…or load examples from a CSV with `text,label` columns"), type=["csv", "txt"], key="classify_teach_upload"
    )
    if upload is not None:
        st.button(t("Use this CSV's rows"), key="classify_teach_load", on_click=_load_examples, args=(upload.getvalue(),))
    try:
        taught = teaching_set({"text": text, "label": lab} for text, lab in st.session_state[EXAMPLES_KEY])
    except InputError as exc:
        st.warning(plain(exc), icon=":material/school:")
        return None
    counts = " · ".join(f"**{plain(label)}** {n}" for label, n in taught.counts.items())
    st.caption(t("Examples per label: {counts}", counts=counts))
    for note in taught.notes:
        st.warning(plain(_sentence(note)), icon=":material/school:")
    return taught


def _load_examples(data: bytes) -> None:
    try:
        table = read_table(data, max_rows=MAX_EXAMPLES)
        text_col = guess_column(table.frame.columns, TEXT_COLUMN_NAMES)
        label_col = guess_column(table.frame.columns, LABEL_COLUMN_NAMES)
        if text_col is None or label_col is None:
            raise InputError(
                "The CSV needs a 'text' and a 'label' column; it has: {columns}.", columns=", ".join(table.frame.columns)
            )
    except InputError as exc:
        st.session_state["classify_teach_error"] = exc  # shown (translated) by the page
        return
    st.session_state.pop("classify_teach_error", None)
    st.session_state[EXAMPLES_KEY] = [[text, lab] for text, lab in table.frame[[text_col, label_col]].itertuples(index=False)]
    st.session_state.pop("classify_editor_key", None)  # the editor starts again from these rows


def answer(result: Classification) -> None:
    st.metric(
        t("Prediction"), plain(result.label), t("{probability:.1%} probability", probability=result.scores[0].probability),
        delta_color="off",
    )
    if result.warning:  # read in this session's language (the result is shared)
        st.warning(result.warning, icon=":material/translate:")
        st.caption(t("Why: open this text on the attention page (the button below) and look at “How each model "
                     "cuts this text into tokens”."))
    st.caption(result.about)
    st.table(  # st.table draws its cells as Markdown
        [
            {t("label"): plain(s.label), t("score (logit)"): f"{s.score:+.2f}", t("probability"): f"{s.probability:.1%}"}
            | ({t("cosine similarity"): f"{s.similarity:.3f}"} if result.kind == "zero-shot" else {})
            for s in result.scores
        ]
    )
    table_downloads(
        "classification", "classify_result",
        lambda: pd.DataFrame([{"text": result.text, "label": s.label, "probability": s.probability, "score": s.score} for s in result.scores]),
    )
    ask_the_room("classify", lambda: label_question(
        t("Which label will the model give this text?"), result.text, [s.label for s in result.scores],
        [s.probability for s in result.scores], language=current()))


def side_by_side(text: str, specs: dict[str, ClassifierSpec], page: str) -> None:
    """The same text through each classifier the page offers (one request each, queued)."""
    rows = []
    for name, spec in specs.items():
        try:
            found = remembered(request.answer(text, spec), **mine(page, "compare"))
        except InputError as exc:
            rows.append({t("classifier"): plain(name), t("label"): "—", t("probability"): "—", t("note"): plain(exc)})
            continue
        rows.append({t("classifier"): plain(name), t("label"): plain(found.label),
                     t("probability"): f"{found.scores[0].probability:.1%}", t("note"): plain(found.warning or "")})
    st.table(rows)  # cells are Markdown


def explanation_controls(labels: list[str]) -> None:
    """The label to explain, the method to compare with, and IG's steps (read by the request)."""
    c1, c2, c3 = st.columns([2, 2, 1])
    choices = [""] + labels
    asked = st.session_state.get("classify_target")
    if asked not in choices:
        if asked:
            st.caption(t(
                "'{label}' is not one of this classifier's labels; the predicted label is explained instead.",
                label=plain(asked),
            ))
        st.session_state["classify_target"] = ""
    c1.selectbox(
        t("Explain the label"), choices, key="classify_target",
        format_func=lambda v: t("the predicted label") if v == "" else v,
    )
    c2.radio(
        t("Compare with"), ["loo", "gxi"], key="classify_compare", horizontal=True,
        format_func=lambda method: t(METHOD_NAMES[method]),
        help=t("Leave one out deletes each token in turn. Gradient × input is one backward pass; where the probability "
               "is saturated (near 0 or 1) its gradient, and so its scores, are close to zero."),
    )
    c3.number_input(
        t("IG steps"), 1, min(MAX_STEPS, limits().ig_steps), key="classify_steps",
        help=t("Integrated Gradients' steps from the baseline to the text; more steps, smaller Δ."),
    )


def explanation(found: TextExplanation, compare: str) -> None:
    target = plain(found.target)
    st.markdown(t(
        "**Why {target}?** Each token's share of p({target}) = {probability:.1%}. :blue-background[blue] pushes "
        "toward **{target}**, :orange-background[orange] away from it.",
        target=target, probability=found.probability,
    ))
    left, right = st.columns(2)
    for column, method in ((left, "ig"), (right, compare)):
        attribution = found.attribution(method)
        with column:
            st.markdown(f"#### {t(attribution.name)}")
            st.html(tokens_html(found.tokens, attribution.scores))
            if attribution.delta is not None:
                st.caption(t(
                    "{steps} steps · sum {total:+.3f} = p(text) − p(baseline) = {probability:.3f} − {baseline:.3f}, "
                    "convergence Δ {delta:.1e} · {ms:.0f} ms",
                    steps=found.steps, total=attribution.scores.sum(), probability=found.probability,
                    baseline=attribution.baseline_probability, delta=attribution.delta, ms=attribution.seconds * 1000,
                ))
            else:
                st.caption(f"{attribution.seconds * 1000:.0f} ms")
            chart(attribution_bars(found, method), f"classify_bars_{method}", f"attribution-{method}")
    st.markdown(t("#### How faithful is each explanation?"))
    st.caption(t(
        "Delete the tokens an explanation ranks highest and watch the probability: a faithful explanation makes it "
        "fall fast (small deletion area, high comprehensiveness), and its top tokens alone keep it (low sufficiency). "
        "A random order is the baseline to beat."
    ))
    st.table(
        [
            {t("order"): t(m.name), t("deletion area ↓"): f"{m.deletion_area:.3f}",
             t("comprehensiveness ↑"): f"{m.comprehensiveness:+.3f}", t("sufficiency ↓"): f"{m.sufficiency:+.3f}"}
            for m in found.faithfulness
        ]
    )
    chart(deletion_curves(found), "classify_deletion", "deletion-curve")
    table_downloads(
        "attributions", "classify_attr",
        lambda: pd.DataFrame(
            {"token": shown_tokens(found.tokens)} | {a.name: a.scores for a in found.attributions}
        ),
        lambda: {
            "text": found.text, "label": found.target, "probability": found.probability,
            "tokens": found.tokens, "attributions": {a.name: a.scores.tolist() for a in found.attributions},
            "faithfulness": [
                {"order": m.name, "deletion_area": m.deletion_area, "comprehensiveness": m.comprehensiveness,
                 "sufficiency": m.sufficiency, "deletion_curve": m.curve.tolist()} for m in found.faithfulness
            ],
        },
    )


def batch(spec: ClassifierSpec, page: str) -> None:
    """Classify every row of an uploaded CSV; with a label column, evaluate."""
    st.caption(t(
        "A CSV with a header row, up to {most:,} rows here (larger files are refused, not cut) and 5 MB.",
        most=min(MAX_ROWS, limits().csv_rows),
    ))
    upload = st.file_uploader(t("CSV file"), type=["csv", "txt", "tsv"], key="classify_batch_upload")
    if upload is None:
        return
    digest, table = _uploaded_table(upload.getvalue())
    for note in table.notes:
        st.info(t("Read with a note: {note}.", note=plain(note)), icon=":material/info:")
    columns = list(table.frame.columns)
    c1, c2 = st.columns(2)
    text_col = c1.selectbox(
        t("Text column"), columns, index=columns.index(guess_column(columns, TEXT_COLUMN_NAMES) or columns[0]),
        key="classify_batch_text",
    )
    label_options = [NO_LABEL_COLUMN] + [c for c in columns if c != text_col]
    guessed = guess_column([c for c in columns if c != text_col], LABEL_COLUMN_NAMES)
    label_col = c2.selectbox(
        t("Label column (to evaluate)"), label_options, index=label_options.index(guessed) if guessed else 0,
        key="classify_batch_label", format_func=lambda c: t("(none)") if c == NO_LABEL_COLUMN else c,
    )
    run_key = (digest, text_col, spec)
    if st.button(t("Classify all {count:,} rows", count=len(table.frame)), key="classify_batch_run", type="primary"):
        st.session_state["classify_batch_result"] = (run_key, _classify_rows(table.frame[text_col].tolist(), spec, page))
    stored = st.session_state.get("classify_batch_result")
    if not stored or stored[0] != run_key:
        return
    results = stored[1]
    frame = pd.DataFrame({"text": table.frame[text_col]})
    frame["predicted"] = [r.label if isinstance(r, Classification) else "" for r in results]
    frame["probability"] = [r.scores[0].probability if isinstance(r, Classification) else None for r in results]
    frame["problem"] = [str(r) if not isinstance(r, Classification) else (r.warning or "") for r in results]
    if label_col != NO_LABEL_COLUMN:
        labels = next((list(s.label for s in r.scores) for r in results if isinstance(r, Classification)), [])
        gold, notes = align_labels(table.frame[label_col].tolist(), labels)
        frame["label"] = gold
        frame["correct"] = [g == p if g else None for g, p in zip(gold, frame["predicted"], strict=True)]
    failed = sum(1 for r in results if not isinstance(r, Classification))
    if failed == 1:
        st.warning(t("1 row could not be classified (see the 'problem' column)."))
    elif failed:
        st.warning(t("{count} rows could not be classified (see the 'problem' column).", count=failed))
    # Shown with translated headers; the downloads keep the English ones (files for other programs).
    st.dataframe(frame.rename(columns=_batch_headers()), hide_index=True, width="stretch", height=300)
    table_downloads("predictions", "classify_batch", lambda: frame)
    if label_col != NO_LABEL_COLUMN:
        for note in notes:
            st.info(plain(_sentence(note)), icon=":material/info:")
        metrics = evaluate(frame["label"].where(frame["predicted"] != "", "").tolist(), frame["predicted"].tolist(), labels)
        m1, m2, m3 = st.columns(3)
        m1.metric(t("Accuracy"), f"{metrics.accuracy:.1%}")
        m2.metric(t("Macro-F1"), f"{metrics.macro_f1:.3f}")
        m3.metric(t("Rows evaluated"), f"{metrics.n:,}")
        headers = {name: t(name) for name in (n_("label"), n_("precision"), n_("recall"), n_("f1"), n_("support"))}
        shown = metrics.per_label().assign(label=lambda frame: frame["label"].map(plain))  # cells are Markdown
        st.table(shown.rename(columns=headers).style.format({headers[n]: "{:.3f}" for n in ("precision", "recall", "f1")}))
        table_downloads("metrics", "classify_metrics", metrics.per_label, metrics.as_dict)
        chart(confusion_heatmap(metrics), "classify_confusion", "confusion-matrix")


def _batch_headers() -> dict[str, str]:
    """The predictions table's columns, as shown."""
    names = (n_("text"), n_("predicted"), n_("probability"), n_("problem"), n_("label"), n_("correct"))
    return {name: t(name) for name in names}


def _uploaded_table(data: bytes) -> tuple[str, Table]:
    """The upload's digest and table, parsed once per file (the page reruns on every click)."""
    digest = hashlib.sha256(data).hexdigest()
    kept = st.session_state.get("classify_batch_table")
    if kept is None or kept[0] != digest:
        kept = st.session_state["classify_batch_table"] = (digest, read_table(data))
    return kept


def _classify_rows(texts: list[str], spec: ClassifierSpec, page: str) -> list:
    progress = st.progress(0.0, text=t("Classifying…"))
    results: list = []
    for start in range(0, len(texts), MAX_TEXTS):
        chunk = [str(t) for t in texts[start : start + MAX_TEXTS]]
        results += await_job(submit_classify_many(chunk, spec, **mine(page, "batch")))
        done = t("Classified {done:,} of {total:,} rows", done=len(results), total=len(texts))
        progress.progress(len(results) / len(texts), text=done)
    progress.empty()
    return results
