"""How much one visitor may ask for: the caps of a laptop in a talk, and the tighter ones of public mode.

`DASHBOARD_PUBLIC=1` (set by the Space image) is for a deployment open to strangers. Then:
- generation servers come only from the operator's list (`backend.generation.engines`), never
  from a URL a visitor types or links;
- model ids only from the operator's allow-list (`DASHBOARD_ALLOWED_MODELS`, see
  `backend.runtime.registry`), fetched when the image is built, never at run time;
- every cap below is tighter, and the pages state each one where it applies.
Outside public mode the caps are loose but still there: no single request may hold a shared
model for minutes or fill the machine's memory. The backend enforces them; the pages only say so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from backend.runtime.settings import env_flag

PUBLIC_ENV = "DASHBOARD_PUBLIC"


def is_public() -> bool:
    """True when this deployment is open to strangers (read on every call: tests switch it)."""
    return env_flag(PUBLIC_ENV)


@dataclass(frozen=True)
class Limits:
    text_chars: int  # any text a visitor types (prompt, sentence, labels are capped separately)
    text_tokens: int  # tokens of one text classified, explained or shown as attention
    ig_steps: int  # Integrated Gradients steps (text and image)
    score_cam_channels: int  # Score-CAM runs one masked image per channel of the chosen layer
    prompt_tokens: int  # a generation prompt
    recorded_attention_tokens: int  # prompt + new tokens when attention is recorded while generating
    new_tokens: int  # tokens per generation
    csv_rows: int  # rows of one uploaded CSV
    upload_pixels: int  # pixels of one uploaded image
    job_seconds: float  # wall clock of one request on a shared model (generation has its own limit)
    queue_length: int  # requests waiting for one model; more get "busy, try again"
    jobs_per_address: int  # unfinished requests from one client address, all pages together
    generation_seconds: float  # wall clock of one generation (DASHBOARD_GENERATION_SECONDS overrides)
    server_generations_per_address: int  # generations on the shared pool of server workers, per address
    held_uploads: int  # browser sessions holding a decoded uploaded image at once, the whole server
    held_uploads_per_address: int  # of those, from one client address
    toy_points: int  # points of one toy data set (the "How it learns" page)
    toy_neurons: int  # hidden units of one toy network (width x depth)
    toy_epochs: int  # epochs of one toy training run


LAPTOP = Limits(
    text_chars=20_000, text_tokens=256, ig_steps=300, score_cam_channels=2048, prompt_tokens=2048,
    recorded_attention_tokens=2048, new_tokens=1024, csv_rows=2000, upload_pixels=50_000_000,
    job_seconds=300.0, queue_length=64, jobs_per_address=24, generation_seconds=180.0,
    server_generations_per_address=24, held_uploads=200, held_uploads_per_address=200,
    toy_points=5000, toy_neurons=256, toy_epochs=3000,
)
PUBLIC = Limits(
    text_chars=4000, text_tokens=128, ig_steps=64, score_cam_channels=320, prompt_tokens=512,
    recorded_attention_tokens=384, new_tokens=256, csv_rows=300, upload_pixels=16_000_000,
    job_seconds=60.0, queue_length=24, jobs_per_address=8, generation_seconds=90.0,
    server_generations_per_address=1, held_uploads=32, held_uploads_per_address=3,
    toy_points=1000, toy_neurons=64, toy_epochs=1000,
)


PER_ADDRESS_ENV = "DASHBOARD_JOBS_PER_ADDRESS"  # a class behind one school NAT shares one address


def limits() -> Limits:
    chosen = PUBLIC if is_public() else LAPTOP
    raw = os.environ.get(PER_ADDRESS_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        chosen = replace(chosen, jobs_per_address=int(raw))
    return chosen
