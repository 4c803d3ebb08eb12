"""How each task is trained and scored: its model head, loss, data stream, validation and test sets.

`tasks/` makes the data; this module is the protocol an experiment runs on it. A
Problem turns a config into the pieces a run needs; the runner stays the
same for every task. Training data is drawn fresh for adding and copy (an
endless stream, as in the papers) and sampled epoch by epoch from the fixed
training split for digits. Seeds: [seed, 1, chunk] for training data, a
fixed seed per task and length for the test set, so every run of a task and
length is scored on the same sequences.
"""

import numpy as np

from .. import tasks
from ..initializers import chrono
from ..nn.cells import cell_maker
from ..nn.dense import Dense
from ..train import optim
from ..train.model import Sequential

TEST_SEED = 20240601  # test sets are the same for every run seed


class Problem:
    """Base: subclasses set the class attributes and the data methods."""

    name = None
    metric = None  # the headline test metric
    goal = None  # "min" or "max" for `metric`
    success = None  # the success criterion in words
    loss = None
    outputs = None  # units of the Dense head
    per_step = False  # the loss reads every step (sequence output)
    fit_metrics = ()

    def __init__(self, config):
        self.config = config
        self.dtype = config["dtype"]

    def steps_per_sequence(self):
        return self.config["length"]

    def baseline(self):
        raise NotImplementedError

    def solved(self, scores):
        raise NotImplementedError

    def test_baseline(self, X, y):
        """The memoryless predictor's score on this very test set (the baseline, up to sampling)."""
        return self.baseline()

    def train_chunk(self, index, n):
        """(X, y) with n sequences for the chunk number `index`."""
        raise NotImplementedError

    def test_set(self):
        raise NotImplementedError

    def validation_set(self):
        """(X, y) to choose on during training, or None: the test set is then scored at every evaluation
        (adding and copy, whose test sets are fresh draws from an endless stream)."""
        return None

    def score(self, model, X, y):
        """{name: value} on the test set; includes `metric`."""
        return {k: float(v) for k, v in model.evaluate(X, y, batch_size=500).items()}

    def beats_baseline(self, scores, baseline):
        value = scores[self.metric]
        return bool(value < baseline if self.goal == "min" else value > baseline)

    def build_model(self):
        """A compiled Sequential: the configured recurrent cell (nn/cells.py), then a Dense head."""
        c = self.config
        options = {"dropout": c["dropout"], "recurrent_dropout": c["recurrent_dropout"]}
        if c["init"] == "chrono":
            options.update(bias_initializer=chrono(max(3, self.steps_per_sequence())), unit_forget_bias=False)
        cell = cell_maker(c["model"])  # "simplernn", "lstm", "lstm-peephole", ...: nn/cells.py
        rnn = cell(c["hidden"], activation=c["activation"], return_sequences=self.per_step, dtype=self.dtype, **options)
        model = Sequential([rnn, Dense(self.outputs, dtype=self.dtype)], seed=c["seed"])
        optimizer = {"adam": optim.Adam, "rmsprop": optim.RMSprop, "sgd": optim.SGD}[c["optimizer"]](lr=c["lr"])
        model.compile(loss=self.loss, optimizer=optimizer, metrics=list(self.fit_metrics), clip_norm=c["clip"] or None)
        return model


class Adding(Problem):
    name = "adding"
    metric = "mse"
    goal = "min"
    success = f"test MSE < {tasks.adding_task.SUCCESS_MSE}"
    loss = "mse"
    outputs = 1

    def baseline(self):
        return tasks.adding_task.baseline(self.config["length"])

    def solved(self, scores):
        return tasks.adding_task.solved(scores["mse"])

    def test_baseline(self, X, y):
        return float(np.mean((y.astype(np.float64) - 1.0) ** 2))  # always answering E[y] = 1

    def train_chunk(self, index, n):
        return tasks.adding(n, self.config["length"], seed=[self.config["seed"], 1, index], dtype=self.dtype)

    def test_set(self):
        return tasks.adding(
            self.config["test_size"], self.config["length"], seed=[TEST_SEED, self.config["length"]], dtype=self.dtype
        )

    def score(self, model, X, y):
        return {"mse": super().score(model, X, y)["loss"]}


class Copy(Problem):
    name = "copy"
    metric = "loss"
    goal = "min"
    success = f"recall of the copied symbols >= {tasks.copy_task.SUCCESS_RECALL:.0%}"
    loss = "sparse_categorical_crossentropy"
    outputs = tasks.copy_task.CLASSES
    per_step = True

    def steps_per_sequence(self):
        return self.config["length"] + 2 * tasks.copy_task.COPIED

    def baseline(self):
        return tasks.copy_task.baseline(self.config["length"])

    def solved(self, scores):
        return tasks.copy_task.solved(scores["recall"])

    def train_chunk(self, index, n):
        return tasks.copy_memory(n, self.config["length"], seed=[self.config["seed"], 1, index], dtype=self.dtype)

    def test_set(self):
        return tasks.copy_memory(
            self.config["test_size"], self.config["length"], seed=[TEST_SEED, self.config["length"]], dtype=self.dtype
        )

    def score(self, model, X, y):
        logits = model.predict(X, batch_size=500)  # one pass gives both the loss and the recall
        loss, _ = model.loss(logits, model.loss.check_targets(y, logits.shape))
        return {"loss": float(loss), "recall": tasks.copy_task.recall_accuracy(y, logits.argmax(axis=-1))}


class Digits(Problem):
    name = "digits"
    metric = "accuracy"
    goal = "max"
    success = f"test accuracy >= {tasks.digits_task.SUCCESS_ACCURACY:.0%}"
    loss = "sparse_categorical_crossentropy"
    outputs = tasks.digits_task.CLASSES
    fit_metrics = ("accuracy",)

    def __init__(self, config):
        super().__init__(config)
        mode = "pixels" if config["length"] == 64 else "rows"
        self.train = tasks.digits("train", mode, dtype=self.dtype)
        self.test = tasks.digits("test", mode, dtype=self.dtype)
        self.validation = tasks.digits("val", mode, dtype=self.dtype)
        self._order = np.empty(0, dtype=np.intp)
        self._epochs = 0
        self._next_index = 0

    def baseline(self):
        return tasks.digits_task.baseline()

    def solved(self, scores):
        return tasks.digits_task.solved(scores["accuracy"])

    def train_chunk(self, index, n):
        # chunks arrive in order; each epoch is a fresh permutation of the training split
        if index != self._next_index:
            raise ValueError(f"digits expected chunk {self._next_index}, got {index}")
        self._next_index += 1
        X, y = self.train
        while self._order.size < n:
            rng = np.random.default_rng([self.config["seed"], 1, self._epochs])
            self._order = np.concatenate([self._order, rng.permutation(len(X))])
            self._epochs += 1
        idx, self._order = self._order[:n], self._order[n:]
        return X[idx], y[idx]

    def test_set(self):
        return self.test

    def validation_set(self):
        return self.validation

    def score(self, model, X, y):
        s = super().score(model, X, y)
        return {"accuracy": s["accuracy"], "loss": s["loss"]}


PROBLEMS = {cls.name: cls for cls in (Adding, Copy, Digits)}


def problem(config):
    return PROBLEMS[config["task"]](config)
