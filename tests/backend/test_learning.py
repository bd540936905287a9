"""How it learns: backpropagation by hand equals autograd, training is deterministic and learns,
each preset shows its lesson in measured numbers, the optimisers behave on their surfaces, and
pretrained features beat random ones on the held-out sentences."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from backend.learning import fine_tuning, toy_training
from backend.learning.backprop import backprop_step
from backend.learning.loss_surfaces import descend
from backend.learning.toy_data import DATASETS, make_dataset
from backend.learning.toy_stack import Stack, one_thread
from backend.learning.toy_training import PRESETS, ToySettings, build_network, data_of, final, open_row, preset, submit_training, train
from backend.runtime.errors import InputError
from backend.runtime.scheduler import Scheduler, run_now


@pytest.mark.parametrize(("x1", "x2", "y", "seed"), [(1.0, -0.5, 1.0, 0), (3.0, 2.0, 0.0, 7), (-10.0, 10.0, 1.0, 42)])
def test_backpropagation_by_hand_equals_autograd_and_the_update_lowers_the_loss(x1, x2, y, seed):
    step = backprop_step(x1, x2, y, 0.5, seed)
    assert step.largest_difference < 1e-6
    np.testing.assert_allclose(step.d_w1, step.autograd.w1, atol=1e-12)
    assert step.d_z2 == pytest.approx(step.y_hat - y)
    assert step.loss == pytest.approx(-np.log(step.y_hat if y else 1 - step.y_hat))
    assert step.loss_after < step.loss  # a small step against the gradient goes downhill
    with pytest.raises(InputError, match="target 0 or 1"):
        backprop_step(1.0, 1.0, 0.5, 0.5, 0)


def test_every_data_set_is_two_balanced_classes_and_the_seed_fixes_the_points():
    for name in DATASETS:
        data = make_dataset(name, 500, 0.1, 0.3, 3)
        assert data.x_train.shape == (350, 2) and data.x_test.shape == (150, 2)
        both = np.concatenate([data.y_train, data.y_test])
        assert set(both) == {0, 1} and abs(both.mean() - 0.5) < 0.02
        again = make_dataset(name, 500, 0.1, 0.3, 3)
        np.testing.assert_array_equal(data.x_train, again.x_train)


def test_training_learns_separable_data_and_the_same_seed_gives_the_same_curves():
    settings = ToySettings(dataset="blobs", epochs=60)
    snapshots = list(train(settings))
    assert snapshots[0].epoch == 0 and snapshots[-1].epoch == 60 and len(snapshots) == 31
    last = snapshots[-1]
    assert last.train_loss[-1] < last.train_loss[0] / 3 and last.test_accuracy > 0.9
    assert last.boundary.shape == (48, 48) and 0 <= last.boundary.min() and last.boundary.max() <= 1
    again = final(settings)
    assert again.train_loss == last.train_loss and again.test_loss == last.test_loss
    assert final(replace(settings, seed=1)).train_loss != last.train_loss


def test_a_paused_run_goes_on_to_the_same_curves_as_one_never_paused():
    settings = ToySettings(dataset="circles", epochs=40, dropout=0.2)
    whole = final(settings)
    first = list(train(settings, until=13))[-1]
    assert first.epoch == 13
    rest = list(train(settings, start=first.state))[-1]
    assert rest.epoch == 40 and rest.train_loss == whole.train_loss


def _plain_pytorch(settings: ToySettings) -> list[float]:
    """The same run written plainly: `nn.Linear` layers, `torch.optim`, the same generator's draws."""
    data, generator = data_of(settings), torch.Generator().manual_seed(settings.seed)
    network = build_network(settings, generator)
    optimizer = {"adam": lambda p: torch.optim.Adam(p, lr=settings.learning_rate),
                 "sgd": lambda p: torch.optim.SGD(p, lr=settings.learning_rate),
                 "momentum": lambda p: torch.optim.SGD(p, lr=settings.learning_rate, momentum=0.9)}[settings.optimizer](network.parameters())
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train).float()
    losses = []
    for _ in range(settings.epochs):
        network.train()
        order = torch.randperm(len(x), generator=generator)
        for first in range(0, len(x), settings.batch_size):
            batch = order[first : first + settings.batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(network(x[batch]).squeeze(-1), y[batch])
            if settings.l2:
                loss = loss + settings.l2 * sum((layer.weight**2).sum() for layer in network if isinstance(layer, torch.nn.Linear))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        network.eval()
        with torch.no_grad():
            losses.append(float(torch.nn.functional.binary_cross_entropy_with_logits(network(x).squeeze(-1), y)))
    return losses


SHAPES = [
    ToySettings(epochs=40),  # the default: 2 x 8 tanh, Adam
    ToySettings(epochs=40, optimizer="momentum", activation="relu", dropout=0.2, l2=0.01, width=32, depth=1),
    ToySettings(epochs=40, optimizer="sgd", learning_rate=0.3, activation="sigmoid", width=13, depth=3, batch_size=7),
    ToySettings(epochs=40, depth=0, dataset="xor"),  # a linear model
]


@pytest.mark.parametrize("settings", SHAPES, ids=["default", "relu-momentum-dropout-l2", "sigmoid-sgd-odd-sizes", "linear"])
def test_the_training_equals_plain_pytorch(settings):
    torch.set_num_threads(1)
    try:
        expected = _plain_pytorch(settings)
    finally:
        torch.set_num_threads(2)
    got = final(settings).train_loss[1:]
    assert len(got) == len(expected) == settings.epochs
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 5e-6


@pytest.mark.parametrize("settings", SHAPES, ids=["default", "relu-momentum-dropout-l2", "sigmoid-sgd-odd-sizes", "linear"])
def test_a_run_beside_eleven_others_has_its_curves_bit_for_bit(settings):
    """Twelve runs in one stack (other seeds, data sets, noise, widths, learning rates, L2 and
    dropout rates and epochs; two join five epochs late, one leaves early): each ends with exactly
    the curves and boundary it has alone."""
    others = [replace(settings, seed=i, dataset=("circles", "xor", "spirals", "blobs")[i % 4], noise=0.05 * (i % 3),
                      learning_rate=settings.learning_rate * (1 + i % 3), epochs=settings.epochs - i % 2,
                      l2=settings.l2 * (i % 2 + 1), dropout=settings.dropout and 0.1 * (i % 3 + 1),
                      width=settings.width - i % 3) for i in range(12)]  # 8, 7 and 6 units share a stack
    rows = [open_row(other) for other in others]
    ended = {}
    with one_thread():
        stack = Stack(rows[0].shape)
        news, epoch = stack.add(rows[:10]), 0
        while stack.rows:
            if epoch == 5:
                news += stack.add(rows[10:])
            if epoch == 21:
                stack.drop([rows[3]])
            ended.update({id(row): snapshot for row, snapshot, done in news if done})
            news, epoch = stack.epoch(), epoch + 1
        ended.update({id(row): snapshot for row, snapshot, done in news if done})
    assert stack.rows == [] and len(ended) == 11
    for i, (other, row) in enumerate(zip(others, rows, strict=True)):
        alone = final(other) if i != 3 else list(train(other, until=21))[-1]
        together = ended.get(id(row)) or row  # the one that left: its history so far
        assert tuple(together.train_loss) == alone.train_loss[: len(together.train_loss)], i
        assert tuple(together.test_loss) == alone.test_loss[: len(together.test_loss)], i
        if i != 3:
            np.testing.assert_array_equal(together.boundary, alone.boundary)


def test_visitors_training_at_once_share_one_loop_and_each_gets_its_own_run():
    scheduler = Scheduler()
    original, toy_training.SCHEDULER = toy_training.SCHEDULER, scheduler
    try:
        settings = [ToySettings(epochs=30, seed=i, learning_rate=0.01 * (i + 1)) for i in range(8)]
        settings.append(ToySettings(epochs=30, width=5, activation="relu"))  # another shape: its own stack, in the same loop
        jobs = [submit_training(one, owner=f"visitor-{i}") for i, one in enumerate(settings)]
        leaver = submit_training(ToySettings(epochs=1000, seed=99), owner="leaver")
        assert submit_training(settings[5], owner="another") is jobs[5]  # the same settings from scratch: one shared run
        while leaver.state == "queued" or len(leaver.pieces) < 2:
            leaver.wait(0.05)
        leaver.leave("leaver")
        results = [run_now(job) for job in jobs]
        assert max(job.batch_size for job in jobs) >= 9  # trained together (the leaver may have gone)
        for one, job, last in zip(settings, jobs, results, strict=True):
            assert last.epoch == 30 and last.train_loss == final(one).train_loss
            assert [piece.epoch for piece in job.pieces] == [piece.epoch for piece in train(one)]
        leaver.wait(30)
        assert leaver.state == "done" and run_now(leaver).epoch < 1000  # it ended when its visitor left
    finally:
        toy_training.SCHEDULER = original


def test_each_preset_shows_its_lesson():
    base = final(ToySettings())
    assert base.test_accuracy > 0.95  # the default network learns the circles
    high = final(preset("Learning rate too high"))
    assert high.diverged or max(high.train_loss[1:]) > 10 * high.train_loss[0] or high.test_accuracy < 0.7
    low = final(preset("Learning rate too low"))
    assert low.train_loss[-1] > 0.9 * low.train_loss[0] and low.test_accuracy < base.test_accuracy
    # overfitting, measured: the test loss's lowest point comes early, then it rises while training loss falls
    big = final(preset("Big network, few noisy points"))
    lowest = int(np.argmin(big.test_loss))
    assert lowest < len(big.test_loss) // 2
    assert big.test_loss[-1] > 1.5 * big.test_loss[lowest] and big.train_loss[-1] < big.train_loss[lowest]
    regularised = final(preset("…and with L2"))
    assert regularised.test_loss[-1] < big.test_loss[-1] * 0.8  # L2 undoes much of it
    linear = final(preset("A linear model on XOR"))
    assert linear.test_accuracy < 0.7 and linear.train_loss[-1] > 0.6  # a line cannot separate XOR
    assert set(PRESETS) == {"Learning rate too high", "Learning rate too low", "Big network, few noisy points",
                            "…and with L2", "A linear model on XOR"}


def test_caps_refuse_too_large_a_run_with_the_numbers(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PUBLIC", "1")
    with pytest.raises(InputError, match="at most 64 units in all; 4 x 32 = 128"):
        next(train(ToySettings(width=32, depth=4)))
    with pytest.raises(InputError, match="20 to 1000 points, not 4000"):
        next(train(ToySettings(points=4000)))
    with pytest.raises(InputError, match="1 to 1000 epochs"):
        next(train(ToySettings(epochs=5000)))
    with pytest.raises(InputError, match="learning rate must be between"):
        next(train(ToySettings(learning_rate=float("nan"))))


def test_optimisers_on_their_surfaces():
    bowl = descend("bowl", 0.1, 100)
    assert all(path.losses[-1] < 1e-3 for path in bowl.paths if path.method != "adam")
    valley = {path.method: path for path in descend("valley", 0.2, 60).paths}
    # steep across the valley: plain SGD overshoots back and forth in y; momentum gets further along x
    assert np.sign(np.diff(valley["sgd"].points[:6, 1])).tolist().count(-1) in (2, 3)
    assert abs(valley["momentum"].points[-1, 0]) < abs(valley["sgd"].points[-1, 0])
    saddle = {path.method: path for path in descend("saddle", 0.05, 200).paths}
    assert all(abs(abs(path.points[-1, 0]) - 1) < 0.1 for path in saddle.values())  # every path leaves the saddle
    with pytest.raises(InputError):
        descend("cliff", 0.1, 10)


def test_pretrained_features_beat_random_ones_on_the_held_out_sentences():
    found = fine_tuning.features()
    assert found["pretrained"][0].shape == (2465, 384) and found["random"][1].shape == (630, 384)
    assert torch.allclose(found["pretrained"][0].norm(dim=1), torch.ones(2465), atol=1e-4)
    tuning = fine_tuning.fine_tuning(64)
    by_kind = {run.features: run for run in tuning.runs}
    pretrained, random = by_kind["pretrained"].heldout, by_kind["random"].heldout
    assert pretrained.accuracy > random.accuracy + 0.15, (pretrained, random)  # the margin the README states
    assert pretrained.accuracy > by_kind["words"].heldout.accuracy
    assert 0 < pretrained.f1 <= 1 and 0 < pretrained.precision <= 1 and 0 < pretrained.recall <= 1
    # more labelled examples help the features that start from nothing most
    assert tuning.curve["words"][-1] > tuning.curve["words"][0] + 0.1
    assert tuning.curve["pretrained"][-1] >= 0.8
    assert tuning.sizes[-1] == 2465 and len(tuning.curve["random"]) == len(tuning.sizes)
    assert fine_tuning.fine_tuning(64).runs == tuning.runs  # deterministic


def test_a_run_gives_its_thread_back_its_own_thread_count():
    before = torch.get_num_threads()
    final(ToySettings(epochs=3))
    assert torch.get_num_threads() == before
