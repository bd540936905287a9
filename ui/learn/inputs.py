"""The learning page's inputs (what its link can say), its presets and its views."""

from __future__ import annotations

from backend.learning.fine_tuning import SIZES
from backend.learning.loss_surfaces import MAX_STEPS, SURFACES
from backend.learning.toy_data import DATASETS
from backend.learning.toy_training import ACTIVATIONS, OPTIMIZERS, PRESETS, ToySettings
from backend.runtime.public_mode import limits
from backend.shared.language import n_
from ui.core.state import Field, choice_field, float_field, int_field

EXTRAS = ("run",)  # run=1: train the network as the link's settings say when the page opens
VIEWS = [n_("Train a network"), n_("Backpropagation by hand"), n_("Gradient descent"),
         n_("Pretraining, then fine-tuning")]
_DEFAULT = ToySettings()
# Each preset's values by widget key (the pills write them into the controls).
TOY_KEYS = {"dataset": "learn_dataset", "points": "learn_points", "noise": "learn_noise",
            "test_share": "learn_test_share", "batch_size": "learn_batch", "width": "learn_width",
            "depth": "learn_depth", "activation": "learn_activation", "learning_rate": "learn_rate",
            "optimizer": "learn_optimizer", "l2": "learn_l2", "dropout": "learn_dropout", "seed": "learn_seed",
            "epochs": "learn_epochs"}
PRESET_VALUES = {name: {TOY_KEYS[k]: v for k, v in (vars(_DEFAULT) | changes).items()} for name, changes in PRESETS.items()}
PRESETS_NOTE = n_("Each preset sets every control: too high a learning rate diverges, too low crawls; a big network "
                  "on few noisy points overfits (test loss turns up while training loss falls) and L2 undoes it; a "
                  "linear model cannot separate XOR.")


def fields() -> list[Field]:
    """Read on each call: the caps on points and epochs are public mode's where it is on (a link past
    them is reset with a notice, never clamped by the widget without a word)."""
    d, caps = _DEFAULT, limits()
    return [
        choice_field("learn_view", "view", VIEWS),
        choice_field("learn_dataset", "data", list(DATASETS)),
        int_field("learn_points", "points", d.points, 20, caps.toy_points),
        float_field("learn_noise", "noise", d.noise, 0.0, 0.5),
        float_field("learn_test_share", "test", d.test_share, 0.1, 0.9),
        int_field("learn_batch", "batch", d.batch_size, 1, caps.toy_points),
        int_field("learn_width", "width", d.width, 1, 64),
        int_field("learn_depth", "depth", d.depth, 0, 6),
        choice_field("learn_activation", "activation", list(ACTIVATIONS), default=d.activation),
        float_field("learn_rate", "rate", d.learning_rate, 1e-5, 10.0),
        choice_field("learn_optimizer", "optimizer", list(OPTIMIZERS), default=d.optimizer),
        float_field("learn_l2", "l2", d.l2, 0.0, 1.0),
        float_field("learn_dropout", "dropout", d.dropout, 0.0, 0.9),
        int_field("learn_seed", "seed", d.seed, 0, 2**32 - 1),
        int_field("learn_epochs", "epochs", d.epochs, 1, caps.toy_epochs),
        float_field("learn_x1", "x1", 1.0, -10.0, 10.0),
        float_field("learn_x2", "x2", -0.5, -10.0, 10.0),
        int_field("learn_target", "target", 1, 0, 1),
        float_field("learn_step_rate", "step_rate", 0.5, 0.001, 10.0),
        int_field("learn_weights_seed", "weights", 0, 0, 9999),
        choice_field("learn_surface", "surface", list(SURFACES)),
        float_field("learn_descent_rate", "descent_rate", 0.1, 1e-4, 2.0),
        int_field("learn_steps", "steps", 60, 1, MAX_STEPS),
        int_field("learn_size", "examples", 64, 2, SIZES[-1]),
    ]

