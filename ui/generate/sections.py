"""The generation page's views: the live token stream, and the inspector of one step."""

from __future__ import annotations

import math

import streamlit as st

from backend.generation.generation_figures import (
    alternatives_chart,
    legend_html,
    logit_lens_heatmap,
    looked_chart,
    rank_by_layer_chart,
    shown,
    step_texts,
    steps_html,
    weights_html,
)
from backend.generation.in_process import (
    GenerationStream,
    single_token,
    submit_generate,
)
from backend.generation.logit_lens import submit_logit_lens
from backend.generation.look_back import IG_STEPS, submit_look_back
from backend.generation.token_steps import (
    GenerationSettings,
    Step,
    branch_settings,
    perplexity,
    sequence_logprob,
    stop_reason_text,
)
from backend.room.questions import next_token_question
from backend.runtime.scheduler import Job
from backend.shared.language import current, n_, t
from ui.core.downloads import chart
from ui.core.jobs import mine, remembered, session_id, wait_in_line
from ui.core.markdown import plain
from ui.core.request import Request
from ui.core.widgets import run_caption, shown_errors
from ui.room.ask import ask_the_room

DRAW_EVERY = 0.15  # seconds between redraws of the live text, for a visitor decoding alone
DRAW_EVERY_MOST = 1.0  # ... and at most, when a whole room decodes together
MEAN_LAYERS, MEAN_HEADS = n_("mean over layers"), n_("mean over heads")  # the attention view's first options


def redraw_every(decoding_together: int) -> float:
    """Seconds between redraws of a live answer. Every redraw of every visitor's page costs the
    server's cores, and slows the step every visitor's next token waits for (bench/room.py measures
    it), so a page redraws less often the more visitors decode together:
    still several tokens a second on every screen, and the tokens come sooner."""
    return min(DRAW_EVERY_MOST, DRAW_EVERY * max(1.0, decoding_together / 3))


def speed_caption(steps: list[Step], finished: bool) -> str:
    if not steps:
        return t("Waiting for the first token…")
    n, last = len(steps), steps[-1]
    parts = [
        t("**Tokens:** {count}", count=n),
        t("**Speed:** {rate} tokens/s", rate=f"{n / last.seconds:.1f}") if last.seconds > 0 else "",
        t("**First token after:** {ms} ms", ms=f"{steps[0].seconds * 1000:.0f}"),
    ]
    if not any(math.isnan(s.probability) for s in steps):  # a server may send text without odds
        parts += [t("**Log-probability:** {value}", value=f"{sequence_logprob(steps):.2f}"),
                  t("**Perplexity:** {value}", value=f"{perplexity(steps):.2f}")]
    if not finished:
        newest = ", ".join(f"{plain(shown(c.text))} {c.probability:.0%}" for c in last.before[:4])
        parts.append(t("**Now:** {token} ({p}; others: {others})", token=plain(shown(last.text)),
                       p=f"{last.probability:.0%}", others=newest))
    return " · ".join(p for p in parts if p)


def draw_steps(box, steps: list[Step], finished: bool, selected: int | None = None) -> None:
    with box.container(border=True):
        st.html(steps_html(steps, selected))
        st.caption(speed_caption(steps, finished))


def follow(job: Job, box, selected: int | None = None) -> None:
    """Draw the job's steps into `box` as they arrive, until it ends (or Streamlit reruns)."""
    wait_in_line(job)
    drawn = -1
    while True:
        finished = job.wait(redraw_every(job.batch_size))
        steps = list(job.pieces)
        if len(steps) != drawn or finished:
            draw_steps(box, steps, finished, selected)
            drawn = len(steps)
        if finished:
            return


def pick_step(steps: list[Step], key: str) -> int:
    """The step to inspect; starts at the most surprising token (the lowest probability)."""
    if key not in st.session_state:
        st.session_state[key] = min(range(len(steps)), key=lambda i: 1.0 if math.isnan(steps[i].probability) else steps[i].probability)
    texts = step_texts(steps)  # a character split over two tokens read whole
    return st.select_slider(
        t("Token to inspect"), options=list(range(len(steps))), key=key,
        # the slider's value and ends are Markdown; the tokens may be a server's
        format_func=lambda i: f"{i + 1}: {plain(shown(texts[i]))}",
        help=t("Starts at the least likely token the model wrote. Hover a token in the text for its odds."),
    )


def alternatives(step: Step, settings: GenerationSettings, remote: bool) -> None:
    cells = st.columns(4)
    cells[0].metric(t("Probability"), f"{step.probability:.1%}")
    cells[1].metric(t("Rank"), f"{step.rank}" if step.rank else f"> {len(step.before)}")
    entropy = t("{bits} bits", bits=f"{step.entropy_bits:.2f}") if step.entropy_bits is not None else t("n/a")
    cells[2].metric(t("Entropy"), entropy,
                   help=t("How spread the model's guess is: 0 bits = certain; log2(vocabulary) = no idea."))
    cells[3].metric(t("Tokens left to draw from"), f"{step.kept:,}" if step.kept is not None else t("n/a"),
                   help=t("After temperature, top-k and top-p: how many tokens still had a chance."))
    if step.forced:
        st.info(t("You forced this token; the numbers are what the model would have given it."), icon=":material/call_split:")
    elif remote:
        st.caption(t("The server's log-probabilities (its top alternatives before sampling). What sampling removed, "
                     "the entropy over the whole vocabulary and the views below need the in-process model."))
    elif settings.greedy:
        st.caption(t("Temperature 0 is greedy: the top token is taken, so the draw has one candidate."))
    else:
        st.caption(_draw_sentence(step, settings))
    chart(alternatives_chart(step), key="generate_alt_chart", name=f"alternatives-step-{step.index + 1}")


def _draw_sentence(step: Step, settings: GenerationSettings) -> str:
    """How the draw picked the token: its chance after sampling's filters, and the filters."""
    values = {
        "p": f"{step.drawn_probability:.1%}", "temperature": f"{settings.temperature:g}",
        "top_k": settings.top_k or t("off"), "top_p": f"{settings.top_p:g}",
    }
    if settings.repetition_penalty != 1:
        return t("The draw picked it with probability {p} after temperature {temperature}, top-k {top_k}, top-p {top_p}, "
                 "repetition penalty {penalty}.", penalty=f"{settings.repetition_penalty:g}", **values)
    return t("The draw picked it with probability {p} after temperature {temperature}, top-k {top_k}, top-p {top_p}.", **values)


def _which(layer: int | str, head: int | str) -> str:
    """The layers and heads an attention view shows, in words."""
    if layer == MEAN_LAYERS:
        return t("all layers, mean over heads") if head == MEAN_HEADS else t("all layers, head {head}", head=head)
    if head == MEAN_HEADS:
        return t("layer {layer}, mean over heads", layer=layer)
    return t("layer {layer}, head {head}", layer=layer, head=head)


def where_it_looked(stream: GenerationStream, step: Step) -> None:
    model_key, config = stream.handle.spec.key, stream.handle.model.config
    n_layers, n_heads = config.num_hidden_layers, config.num_attention_heads
    c1, c2 = st.columns(2)
    # the options' values stay English (the widgets' state); format_func says them
    layer = c1.selectbox(t("Layer"), [MEAN_LAYERS, *range(1, n_layers + 1)], index=n_layers, key="generate_look_layer",
                         format_func=lambda v: t(v) if v == MEAN_LAYERS else str(v))
    head = c2.selectbox(t("Head"), [MEAN_HEADS, *range(1, n_heads + 1)], key="generate_look_head",
                        format_func=lambda v: t(v) if v == MEAN_HEADS else str(v))
    with shown_errors():
        token = plain(shown(step.text))
        what = _which(layer, head)
        if step.attention is not None:
            weights = step.attention.astype("float32")
            said = t("Attention of the position that chose “{token}” ({what}; recorded while streaming). "
                     "Much of a decoder's attention parks on the first token (an 'attention sink') and says little about "
                     "the answer.", token=token, what=what)
        else:
            key = (model_key, tuple(stream.prompt_ids), tuple(stream.token_ids), step.index)
            found = remembered(Request("generate_look", key, lambda **owner: submit_look_back(
                "attention", model_key, stream.prompt_ids, stream.token_ids, step.index, **owner)), **mine("generate", "look"))
            weights = found.attention
            said = t("Attention of the position that chose “{token}” ({what}; one forward pass, {ms} ms). "
                     "Much of a decoder's attention parks on the first token (an 'attention sink') and says little about "
                     "the answer.", token=token, what=what, ms=f"{found.seconds * 1000:.0f}")
        picked = weights if layer == MEAN_LAYERS else weights[layer - 1 : layer]
        picked = picked.mean(axis=(0, 1)) if head == MEAN_HEADS else picked[:, head - 1].mean(axis=0)
        tokens = stream.context_pieces(step.index)
        st.html(weights_html(tokens, picked, stream.prompt_tokens))
        st.caption(said)
        scores = None
        if st.toggle(t("Compare with Integrated Gradients (Captum, {steps} steps, about 1–3 s)", steps=IG_STEPS), key="generate_look_ig"):
            key = (model_key, tuple(stream.prompt_ids), tuple(stream.token_ids), step.index, stream.prompt)
            found, positions = remembered(Request("generate_ig", key, lambda **owner: submit_look_back(
                "attribution", model_key, stream.prompt_ids, stream.token_ids, step.index, stream.prompt, **owner)),
                **mine("generate", "look"))
            scores = dict(zip(positions, found.scores.tolist(), strict=True))
            st.caption(t(
                "IG moves the user's prompt and the earlier output from the word “ the” to the real text; the shares add up "
                "to p − p(baseline) = {p} − {baseline} within {delta}. {seconds} s. The chat template is left as it is.",
                p=f"{step.probability:.3f}", baseline=f"{found.baseline_probability:.3f}", delta=f"{found.delta:.3f}",
                seconds=f"{found.seconds:.1f}",
            ))
        chart(looked_chart(tokens, picked, stream.prompt_tokens, step.text, scores, what), key="generate_look_chart",
              name=f"where-it-looked-step-{step.index + 1}")


def lens(stream: GenerationStream, step: Step) -> None:
    model_key = stream.handle.spec.key
    with shown_errors():
        key = (model_key, tuple(stream.prompt_ids), tuple(stream.token_ids), step.index)
        found = remembered(Request("generate_lens", key, lambda **owner: submit_logit_lens(
            model_key, stream.prompt_ids, stream.token_ids, step.index, **owner)), **mine("generate", "lens"))
        first_top = next((i + 1 for i, r in enumerate(found.chosen_ranks[:, found.selected]) if r == 1), None)
        ms, token = f"{found.seconds * 1000:.0f}", plain(shown(step.text))
        if first_top:
            st.caption(t(
                "Every layer's hidden state through the final norm and output layer ({ms} ms). Text: the layer's top guess; "
                "colour: the probability it gives the token finally chosen (▶ marks the selected one). "
                "“{token}” becomes the top guess at layer {layer} of {layers}.",
                ms=ms, token=token, layer=first_top, layers=found.n_layers,
            ))
        else:
            st.caption(t(
                "Every layer's hidden state through the final norm and output layer ({ms} ms). Text: the layer's top guess; "
                "colour: the probability it gives the token finally chosen (▶ marks the selected one). "
                "“{token}” is never the top guess: it was drawn, not the most likely.",
                ms=ms, token=token,
            ))
        chart(logit_lens_heatmap(found), key="generate_lens_chart", name=f"logit-lens-step-{step.index + 1}")
        chart(rank_by_layer_chart(found), key="generate_lens_rank", name=f"rank-by-layer-step-{step.index + 1}")


def what_if(stream: GenerationStream, step: Step) -> None:
    model_key = stream.handle.spec.key
    options = [c for c in step.before if c.token_id != step.token_id]
    c1, c2 = st.columns([3, 2])
    picked = c1.selectbox(
        t("Force instead"), list(range(len(options))), key="generate_whatif_pick",
        format_func=lambda i: f"{shown(options[i].text)} ({options[i].probability:.1%})",
    )
    typed = c2.text_input(t("…or type one token"), key="generate_whatif_typed", placeholder=t("e.g. ' London'"))
    if st.button(t("Continue from here"), key="generate_whatif_run", icon=":material/call_split:"):
        with shown_errors():
            forced = single_token(model_key, typed) if typed else options[picked].token_id
            job = submit_generate(
                stream.prompt, branch_settings(stream.settings, step.index), model_key, prefix=stream.token_ids[: step.index],
                force=forced, **mine("generate", "whatif"),
            )
            st.session_state["generate_branch"] = (job, tuple(stream.token_ids), step.index)
    held = st.session_state.get("generate_branch")
    if held is None or held[1] != tuple(stream.token_ids):
        return
    job, _, at = held
    left, right = st.columns(2)
    left.markdown(t("**As generated** (from token {token})", token=at + 1))
    draw_steps(left.empty(), stream.steps[at:], True)
    right.markdown(t("**What if** (token {token} forced)", token=at + 1))
    box = right.empty()
    if job.active:
        follow(job, box)
    with shown_errors():
        branch = job.outcome() if job.state != "cancelled" else None
        if branch is not None:
            draw_steps(box, branch.steps, True)
            right.caption(t("**Branch stopped by:** {reason}", reason=stop_reason_text(branch.stop_reason)))


def _stop(job: Job) -> None:
    """Stop following: the generation ends unless others who opened the same link still follow it."""
    if not job.leave(session_id()):
        st.session_state["generate_left"] = job.id


def answer(job: Job, answered: bool) -> None:
    """The generation `job` as it streams, then its steps and the inspector of the chosen one.
    `answered`: the inputs on the page are still those it was asked with."""
    st.html(legend_html())
    box = st.empty()
    if job.active and st.session_state.get("generate_left") == job.id:
        draw_steps(box, list(job.pieces), True)
        st.info(t("Stopped for you after {count} tokens. The same generation goes on for the others who opened "
                  "this link; click Generate for your own.", count=len(job.pieces)), icon=":material/stop_circle:")
        st.stop()
    if job.active:
        stop = st.empty()
        stop.button(t("Stop"), key="generate_stop", icon=":material/stop_circle:", on_click=_stop, args=(job,))
        if len(job.owners) > 1:
            st.caption(t("{count} visitors follow this same generation (same prompt and settings, one run).",
                         count=len(job.owners)))
        follow(job, box)
        stop.empty()
    if job.state == "cancelled" and not job.pieces:
        st.info(t("You left the page while waiting, so your place in line was given up. Click Generate again."),
                icon=":material/logout:")
        return
    with shown_errors():
        stream = job.outcome()
        step_at = pick_step(stream.steps, f"generate_step_{job.id}") if stream.steps else None
        draw_steps(box, stream.steps, True, step_at)
        if stream.run is not None:
            run_caption(stream.run, t("**Stopped by:** {reason}", reason=stop_reason_text(stream.stop_reason)))
        if not answered:
            st.caption(t("The settings above changed since this answer: click Generate for a new one."))
        if step_at is not None:
            _inspector(stream, stream.steps[step_at])


def _inspector(stream, step: Step) -> None:
    in_process = isinstance(stream, GenerationStream)
    if len(step.before) >= 2:
        so_far = stream.prompt + "".join(s.text for s in stream.steps[: step.index])
        ask_the_room("generate", lambda: next_token_question(
            t("What comes next?"), so_far, [(c.text, c.probability) for c in step.before], language=current()))
    # on_change="rerun": only the open tab's code runs, and the open tab survives reruns
    alt, looked, lens_tab, branch = st.tabs(
        [t("Alternatives"), t("Where it looked"), t("Logit lens"), t("What if")], key="generate_view", on_change="rerun"
    )
    if alt.open:
        with alt:
            alternatives(step, stream.settings, remote=not in_process)
    elif not in_process:
        st.info(t("This view needs the in-process model: a server sends tokens and their odds, "
                  "not attention, gradients or hidden states."), icon=":material/dns:")
    elif looked.open:
        with looked:
            where_it_looked(stream, step)
    elif lens_tab.open:
        with lens_tab:
            lens(stream, step)
    elif branch.open:
        with branch:
            what_if(stream, step)
