"""A question for the room, built from a model's real answer, and the numbers of its reveal.

Each page turns the answer on screen into multiple choice: the choices, and the model's probability
of each (its own numbers, not a guess). The reveal sets the room's answers beside them: a
histogram, how many chose what the model ranks first, and one number for how close the room was:
the *overlap* of the two distributions over the choices, 1 - total variation distance (100 %: the
room answered in the same proportions as the model's probabilities, renormalised over the choices;
0 %: the room chose only what the model gave no weight).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field

KINDS = ("generation", "classification", "image", "attention")
MAX_CHOICES = 8
MAX_CHOICE_CHARS = 40  # one choice's text on a phone's button
MAX_CONTEXT_CHARS = 600  # the sentence, prompt or token list shown above the choices
MAX_FREE_TEXT_CHARS = 40  # a free-text answer (generation)
MAX_IMAGE_BYTES = 200_000  # the photo a recognition question shows (a JPEG made by the page)


@dataclass(frozen=True)
class Question:
    kind: str  # one of KINDS
    prompt: str  # what the room is asked, in the presenter's language
    context: str  # what it is about: the sentence, the prompt so far, the tokens (may be a visitor's text)
    choices: tuple[str, ...]
    model: tuple[float, ...]  # the model's probability of each choice
    free_text: bool = False  # also accept a typed answer, matched to the choices (generation)
    image: bytes = b""  # JPEG shown with an image question
    language: str = "en"
    known: tuple[tuple[str, float], ...] = ()  # more of the model's ranked answers (not choices), for typed guesses

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown question kind {self.kind!r}")
        if not 2 <= len(self.choices) <= MAX_CHOICES or len(self.choices) != len(self.model):
            raise ValueError("a question has 2 to 8 choices, each with the model's probability")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("the choices must differ")
        if len(self.image) > MAX_IMAGE_BYTES:
            raise ValueError("the question's image is too large")

    @property
    def model_choice(self) -> int:
        """The choice the model ranks first."""
        return max(range(len(self.model)), key=self.model.__getitem__)

    def match(self, typed: str) -> int | None:
        """The choice a typed answer stands for (case and surrounding spaces ignored), or None."""
        wanted = typed.strip().casefold()[:MAX_FREE_TEXT_CHARS]
        for i, choice in enumerate(self.choices):
            if choice.strip().casefold() == wanted:
                return i
        return None

    def probability_of(self, typed: str) -> float | None:
        """The model's probability of a typed guess: a choice, or one of its other ranked answers
        (`known`); None when the model did not rank it that high."""
        wanted = typed.strip().casefold()
        for text, p in (*zip(self.choices, self.model), *self.known):
            if text.strip().casefold() == wanted:
                return p
        return None

    def to_json(self) -> str:
        data = asdict(self)
        data["image"] = self.image.hex()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Question:
        data = json.loads(text)
        data["choices"], data["model"] = tuple(data["choices"]), tuple(data["model"])
        data["known"] = tuple((text, p) for text, p in data.get("known", ()))
        data["image"] = bytes.fromhex(data.get("image", ""))
        return cls(**data)


def _short(text: str, most: int = MAX_CHOICE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= most else text[: most - 1] + "…"


def _distinct(pairs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Choices shown the same way merged (two tokens that print alike: one button, their
    probabilities summed), in first-seen order; empty ones dropped."""
    merged: dict[str, float] = {}
    for text, p in pairs:
        shown = _short(text)
        if shown:
            merged[shown] = merged.get(shown, 0.0) + float(p)
    return list(merged.items())


def _shuffled(pairs: list[tuple[str, float]], seed: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)  # the same answer gives the same order (a re-ask is the same question)
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def next_token_question(prompt: str, context: str, ranked: list[tuple[str, float]], top: int = 4,
                        others: int = 2, language: str = "en") -> Question:
    """'What comes next?': the model's `top` most likely next tokens and `others` plausible ones
    further down its ranking (ranks 10 to 40: words it considered, not nonsense), shuffled; a
    typed answer matched to them, else to the rest of `ranked` (its probability shown at the
    reveal). `ranked`: (token text, probability), most likely first."""
    candidates = _distinct(ranked)
    chosen = candidates[:top]
    further = candidates[10:40] or candidates[top:]
    chosen += random.Random(context).sample(further, min(others, len(further)))
    choices, model = _shuffled(chosen, context)
    known = tuple(pair for pair in candidates if pair[0] not in choices)
    return Question("generation", prompt, _short(context, MAX_CONTEXT_CHARS), choices, model, free_text=True,
                    language=language, known=known)


def label_question(prompt: str, context: str, labels: list[str], probabilities: list[float],
                   language: str = "en") -> Question:
    """'Which label?': every label of the classifier (up to 8: the most likely), in its order."""
    pairs = _distinct(list(zip(labels, probabilities)))
    pairs = sorted(pairs, key=lambda p: -p[1])[:MAX_CHOICES] if len(pairs) > MAX_CHOICES else pairs
    return Question("classification", prompt, _short(context, MAX_CONTEXT_CHARS), tuple(p[0] for p in pairs),
                    tuple(p[1] for p in pairs), language=language)


def class_question(prompt: str, ranked: list[tuple[str, float]], image: bytes, top: int = 3, others: int = 3,
                   language: str = "en") -> Question:
    """'What is in this photo?': the model's `top` classes and `others` from further down its
    ranking (ranks 10 to 100), shuffled. `ranked`: (class name, probability), most likely first."""
    candidates = _distinct(ranked)
    seed = "|".join(c[0] for c in candidates[:top])
    chosen = candidates[:top]
    further = candidates[10:100] or candidates[top:]
    chosen += random.Random(seed).sample(further, min(others, len(further)))
    choices, model = _shuffled(chosen, seed)
    return Question("image", prompt, "", choices, model, image=image, language=language)


def attention_question(prompt: str, tokens: list[str], weights: list[float], most: int = 6,
                       language: str = "en") -> Question:
    """'Which token does it look at most?': the tokens with the `most` largest attention weights of
    the chosen token's row in the chosen head, in sentence order, with those weights."""
    pairs = _distinct(list(zip(tokens, weights)))
    keep = sorted(sorted(range(len(pairs)), key=lambda i: -pairs[i][1])[:most])
    return Question("attention", prompt, _short(" ".join(tokens), MAX_CONTEXT_CHARS),
                    tuple(pairs[i][0] for i in keep), tuple(pairs[i][1] for i in keep), language=language)


@dataclass(frozen=True)
class Tally:
    """The room's answers to one question, and what the reveal shows of them."""
    counts: tuple[int, ...]
    model: tuple[float, ...]
    model_choice: int
    others: int = 0  # typed answers that matched no choice
    typed: tuple[str, ...] = field(default=())  # a few of those, as typed (shown escaped)

    @property
    def answered(self) -> int:
        return sum(self.counts) + self.others

    @property
    def shares(self) -> tuple[float, ...]:
        total = sum(self.counts)
        return tuple(c / total for c in self.counts) if total else tuple(0.0 for _ in self.counts)

    @property
    def model_shares(self) -> tuple[float, ...]:
        """The model's probabilities renormalised over the choices."""
        total = sum(self.model)
        return tuple(p / total for p in self.model) if total > 0 else tuple(1 / len(self.model) for _ in self.model)

    @property
    def matched(self) -> int:
        """Answers that chose what the model ranks first."""
        return self.counts[self.model_choice]

    @property
    def overlap(self) -> float | None:
        """1 - total variation distance between the room's answers and the model's probabilities
        (both over the choices); None before any answer."""
        if not sum(self.counts):
            return None
        return sum(min(a, b) for a, b in zip(self.shares, self.model_shares))
