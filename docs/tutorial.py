"""The rnnlab tutorial, in percent format: `python docs/render_tutorial.py` turns it into tutorial.ipynb."""
# %% [markdown]
# # Recurrent networks, from a memory that fades to three gates
#
# This notebook walks the path of the article rnnlab grew from: a SimpleRNN reads
# 我 爱 祖国 ("I love my country") one word at a time and passes a hidden state — its
# memory — from step to step; that memory fades (vanishing gradients, short memory);
# the LSTM's three gates — input, forget, output — and its cell state fix it.
# Every number below comes from rnnlab's own NumPy kernels.
#
# `QUICK = True` (set by the test suite through `RNNLAB_TUTORIAL_QUICK=1`) shrinks the
# experiments to seconds; the full settings take a few minutes on two cores.

# %%
import io
import os

import numpy as np
from IPython.display import Image, display

import rnnlab as rl

QUICK = os.environ.get("RNNLAB_TUTORIAL_QUICK") == "1"
rng = np.random.default_rng(0)


def show(fig):
    """Show an rnnlab figure (a matplotlib Figure built without pyplot) as a PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    display(Image(buf.getvalue()))


# %% [markdown]
# ## 1. A chain of steps that pass a memory
#
# A SimpleRNN computes, at every step t,
#
# $$h_t = \tanh(x_t W + h_{t-1} U + b)$$
#
# The same W, U and b serve every step; only the state h changes. We feed the three
# words as one-hot vectors and run the recurrence by hand, next to `rl.SimpleRNN`.

# %%
words = ["我", "爱", "祖国"]
x = np.eye(3)[None]  # (batch 1, time 3, features 3): one one-hot vector per word
rnn = rl.SimpleRNN(4, return_sequences=True, dtype="float64", seed=0)
h_layer = rnn(x)[0]  # (3 steps, 4 units)

W, U, b = rnn.params["W"], rnn.params["U"], rnn.params["b"]
h = np.zeros(4)  # the memory starts empty
for t, word in enumerate(words):
    h = np.tanh(x[0, t] @ W + h @ U + b)  # h_t = tanh(x_t W + h_{t-1} U + b)
    print(f"step {t + 1}  input {word}  h = {np.round(h, 3)}")
print("same as the layer:", np.allclose(h_layer[-1], h))

# %% [markdown]
# ## 2. The hand-written sigmoid, and why its slope matters
#
# The article plots σ(x) = 1 / (1 + e^(−x)) for x from −5 to 5 in steps of 0.1. Its
# derivative σ'(x) = σ(x)(1 − σ(x)) is at most 1/4, and tanh' = 1 − tanh² is at most 1.
# Backpropagation through time multiplies one such slope (times U) per step, so a
# signal from far back is a product of many factors below one.

# %%
x_axis = np.arange(-5.0, 5.0, 0.1)
y = 1 / (1 + np.exp(-x_axis))  # the article's code
sigmoid, d_sigmoid = rl.kernels.activations.get("sigmoid")
print("rnnlab's sigmoid equals the article's:", np.allclose(sigmoid(x_axis), y))
print("largest slope of σ:", d_sigmoid(y).max(), "  0.25 ** 10 =", 0.25**10)
show(rl.plots.activations())

# %% [markdown]
# ## 3. Limits, measured: gradient flow
#
# Put a loss at the last step T and ask how strongly it reaches back to the state
# t steps earlier: ‖∂L/∂h_t‖. `rl.probe.gradient_flow` computes it with the layer's own
# exact BPTT, here on adding-problem sequences (section 4) with the loss gradient
# fixed at h_T.
#
# Each step back multiplies the SimpleRNN's gradient by Uᵀ·diag(1 − h_t²): nothing in the
# cell can make that factor exactly 1, so the norm shrinks (or blows up) exponentially
# with the lag. The LSTM's cell state is different: ∂C_t/∂C_{t-1} = f_t, the forget gate
# itself. With rnnlab's default forget bias of 1 (f ≈ 0.73) a fresh LSTM forgets fast
# too — but a forget gate pushed towards 1 (here its bias set to 5, f ≈ 0.99) passes
# the gradient back almost untouched. Training on a long-memory task is what teaches
# an LSTM to open it; the SimpleRNN has no such switch.

# %%
T = 60 if QUICK else 200
X_flow, _ = rl.tasks.adding(8, T, seed=0)
dh_T = np.full((8, 32), 1 / np.sqrt(8 * 32))  # the same loss gradient at h_T for every model
open_forget = rl.LSTM(32, dtype="float64", seed=0).build(2)
open_forget.params["b"][32:64] = 5.0  # the f block of b (blocks i, f, C̃, o): f_t = σ(... + 5) ≈ 0.99
flows = {}
for name, layer in [
    ("SimpleRNN", rl.SimpleRNN(32, dtype="float64", seed=0)),
    ("LSTM", rl.LSTM(32, dtype="float64", seed=0)),
    ("LSTM, forget gate open", open_forget),
]:
    flows[name] = f = rl.probe.gradient_flow(layer, X_flow.astype("float64"), dh_T)
    print(
        f"{name:23s}  ‖∂L/∂h‖ at lag 0: {f['h'][0]:.3g}   at lag {T}: {f['h'][-1]:.3g}   "
        f"decay {f['rate_h']:+.3f} nats per step"
    )
show(rl.plots.gradient_flow(flows))

# %% [markdown]
# ## 4. Limits, measured: the adding race
#
# The adding problem (Hochreiter & Schmidhuber 1997): two of T random values are
# marked; the target is their sum. Answering the mean, 1, without reading anything
# scores an MSE of 1/6 ≈ 0.167 — the baseline. To beat it a network must hold the
# first marked value across the distractors. Both models train the same way.

# %%
lengths = (10, 30) if QUICK else (10, 50)
n_train, epochs, hidden = (2000, 4, 16) if QUICK else (8000, 20, 64)
baseline = rl.tasks.adding_task.BASELINE
results, curves = [], {}
for length in lengths:
    X, y = rl.tasks.adding(n_train, length, seed=0)
    X_test, y_test = rl.tasks.adding(1000, length, seed=1)
    for name, cell in [("SimpleRNN", rl.SimpleRNN), ("LSTM", rl.LSTM)]:
        model = rl.Sequential([cell(hidden), rl.Dense(1)], seed=0)
        model.compile(loss="mse", optimizer=rl.optim.Adam(3e-3), clip_norm=1.0)
        history = model.fit(X, y, epochs=epochs, batch_size=64, seed=0, verbose=0)
        mse = model.evaluate(X_test, y_test)["loss"]
        results.append({"model": name, "length": length, "test_mse": mse})
        curves[f"{name}, T={length}"] = history.history["loss"]
        print(f"T={length:3d}  {name:9s}  test MSE {mse:.4f}  ({mse / baseline:.1%} of the baseline)")
show(rl.plots.learning_curves(curves, baseline=baseline, logy=True, title="adding: training MSE"))

# %% [markdown]
# The quick settings are too short to settle the race. With the full settings
# (`QUICK = False`: 8,000 sequences, 20 epochs, 64 units; 160 s for the whole notebook on
# two cores) this notebook printed:
#
# | T | SimpleRNN test MSE | LSTM test MSE |
# |---|---|---|
# | 10 | 0.0019 (1.1% of the baseline) | 0.0001 (0.1%) |
# | 50 | 0.1684 (101%: the baseline) | 0.0004 (0.2%) |
#
# At T = 10 both remember; at T = 50 the SimpleRNN has fallen back to answering the mean
# while the LSTM still adds. `rnnlab compare adding --models simplernn,lstm --lengths
# 10,25,50,100,200` runs the longer grid (docs/RESULTS.md).

# %% [markdown]
# ## 5. The three gates
#
# The LSTM keeps a cell state C beside h and lets three gates decide what happens to it:
#
# $$i_t = \sigma(x_t W_i + h_{t-1} U_i + b_i) \qquad \text{input gate: how much new information enters}$$
# $$f_t = \sigma(x_t W_f + h_{t-1} U_f + b_f) \qquad \text{forget gate: how much old memory is kept}$$
# $$\tilde C_t = \tanh(x_t W_c + h_{t-1} U_c + b_c) \qquad \text{candidate memory}$$
# $$o_t = \sigma(x_t W_o + h_{t-1} U_o + b_o) \qquad \text{output gate: how much memory is shown}$$
# $$C_t = f_t \odot C_{t-1} + i_t \odot \tilde C_t \qquad h_t = o_t \odot \tanh(C_t)$$
#
# To see gates that do a job, a tiny language model learns the sentence itself — to
# predict 爱 after 我, 祖国 after 爱 and the end after 祖国 — in well under a second.
# `rl.probe.record` then reads the sentence again and keeps what the kernel computed
# at every step (the same as `rnnlab trace "我 爱 祖国"` on the command line).

# %%
from rnnlab.text import sentence

tokens = sentence.tokenize("我 爱 祖国")
model, vocab = sentence.fit_sentence(tokens, units=8, seed=0)
ids = np.array([[vocab.index(t) for t in tokens]])
recording = rl.probe.record(model, ids)
lstm = recording[0]  # the first (and only) recurrent layer
notes = [f"→ next: {tok} (p = {p:.2f})" for tok, p in sentence.predictions(recording.output[0], vocab)]
print(lstm.table(tokens=tokens, notes=notes))

# %% [markdown]
# The recorded numbers obey the equations exactly — they are the kernel's own:

# %%
C_prev = np.concatenate([lstm.c0[:, None], lstm.c[:, :-1]], axis=1)
print("C = f ⊙ C_prev + i ⊙ C̃ :", np.array_equal(lstm.f * C_prev + lstm.i * lstm.c_tilde, lstm.c))
print("h = o ⊙ tanh(C)        :", np.array_equal(lstm.o * np.tanh(lstm.c), lstm.h))
show(rl.plots.gates(recording, tokens=tokens))
show(rl.plots.cell_state(recording, tokens=tokens))

# %% [markdown]
# ### The GRU: two gates, no cell
#
# The GRU (Cho et al. 2014) drops the cell state and the output gate. An update gate z
# mixes the old state with a candidate; a reset gate r decides how much of the old state
# the candidate may read (`reset_after=True`, the default of Keras 3 and PyTorch):
#
# $$z_t = \sigma(x_t W_z + h_{t-1} U_z + b_z) \qquad r_t = \sigma(x_t W_r + h_{t-1} U_r + b_r)$$
# $$\tilde h_t = \tanh(x_t W_h + b_h + r_t \odot (h_{t-1} U_h + b'_h))$$
# $$h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t$$
#
# A unit with z near 1 keeps its value from the step before; one with r near 0 writes a
# candidate that ignores it. The same sentence, learned by a GRU (`rnnlab trace --cell gru`):

# %%
gru_model, gru_vocab = sentence.fit_sentence(tokens, cell="gru", units=8, seed=0)
gru = rl.probe.record(gru_model, np.array([[gru_vocab.index(t) for t in tokens]]))[0]
print(gru.table(tokens=tokens))
h_prev = np.concatenate([gru.h0[:, None], gru.h[:, :-1]], axis=1)
print("h = z ⊙ h_prev + (1 − z) ⊙ h̃ :", np.array_equal(gru.z * h_prev + (1 - gru.z) * gru.h_tilde, gru.h))

# %% [markdown]
# ## 6. The lessons: every limit of the SimpleRNN, seen
#
# The article names four limits of the SimpleRNN: vanishing and exploding gradients, short
# memory, high cost on long sequences, and overfitting. `rnnlab lesson NAME` runs each as a
# short experiment that prints a table and writes one figure with a caption; here they run
# on tiny settings (`size="full"` is what `rnnlab lesson` runs, a minute or two each on
# 2 cores; docs/RESULTS.md has the full numbers).

# %%
from rnnlab import lessons

size = "tiny" if QUICK else "full"
lesson_dir = "lessons"


def lesson(name):
    """Run a lesson quietly, print its table and caption, show its figure."""
    result = lessons.run(name, lesson_dir, size, say=lambda text: None)
    print(result.table, "\n")
    print(result.caption)
    display(Image(filename=result.figure))
    return result


# %% [markdown]
# ### Short memory
#
# The adding problem: two marked numbers among T, answer their sum. A SimpleRNN that
# cannot carry the first number to the end stays on the line of always answering 1.

# %%
memory = lesson("memory")

# %% [markdown]
# ### Vanishing gradients
#
# Why: ‖∂L/∂h_t‖ shrinks by a roughly constant factor per step back in a SimpleRNN.

# %%
vanishing = lesson("vanishing")

# %% [markdown]
# ### Exploding gradients
#
# The mirror image: a recurrent matrix with spectral radius 1.8 makes the gradient grow with
# the lag; without clipping the run ends in NaN, with clipping by global norm it trains.

# %%
exploding = lesson("exploding")
print("unclipped runs diverged:", exploding.numbers["diverged"])

# %% [markdown]
# ### Overfitting
#
# An LSTM on a few hundred digits: training loss falls, validation loss turns up; recurrent
# dropout, weight decay and early stopping, chosen on the validation split, the test set
# scored once.

# %%
overfitting = lesson("overfitting")

# %% [markdown]
# ### The cost of long sequences
#
# Time and memory of a training step against T, and why more cores do not make one sequence
# faster.

# %%
cost = lesson("cost")

# %% [markdown]
# ## 7. Where next
#
# - `rnnlab trace "the cat sat on the mat"` — the same trace in English: "the" comes
#   twice, and only the state tells "cat" from "mat" after it.
# - `rnnlab text train CORPUS.txt --out model.rnnlab` and `rnnlab text sample` — a
#   character-level LSTM on any UTF-8 text, English or Chinese (docs/TEXT.md).
# - `rnnlab run` and `rnnlab compare` — the long-memory benchmarks (docs/RESULTS.md).
# - `rnnlab lesson --list` — the lessons above, at full settings.
