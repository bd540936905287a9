"""A spec to its classifier on the loaded model, built once per process and kept (LRU-bounded)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from backend.runtime.errors import InputError
from backend.runtime.loaded_model import LoadedModel
from backend.shared.language import lazy
from backend.text.sentiment import sentiment_classifier
from backend.text.specs import Classifier, ClassifierSpec
from backend.text.teaching import taught_classifier
from backend.text.zero_shot_head import zero_shot_classifier

MAX_CACHED_HEADS = 64  # resolved classifiers kept per model (user-typed labels are unbounded)
_resolve_lock = threading.Lock()


def resolve(handle: LoadedModel, spec: ClassifierSpec) -> Classifier:
    """The classifier for `spec` on the loaded model, built once per process (LRU-bounded).
    The caller holds the model's lock (building one embeds sentences)."""
    cache: OrderedDict[ClassifierSpec, Classifier] = handle.extras.setdefault("classifiers", OrderedDict())
    with _resolve_lock:
        found = cache.get(spec)
        if found is not None:
            cache.move_to_end(spec)
            return found
    if spec.kind == "fine-tuned":
        names = handle.model.config.id2label
        labels = tuple(names[i] for i in range(len(names)))
        built = Classifier(spec, labels, None, lazy("Fine-tuned: the model's own trained output layer."))
    elif spec.kind == "zero-shot":
        built = zero_shot_classifier(handle, spec)
    elif spec.kind == "taught":
        built = taught_classifier(handle, spec)
    elif spec.kind == "sentiment":
        built = sentiment_classifier(handle, spec)
    else:
        raise InputError("Unknown classifier kind '{kind}'.", kind=spec.kind)
    with _resolve_lock:
        cache[spec] = built
        while len(cache) > MAX_CACHED_HEADS:
            cache.popitem(last=False)
    return built
