"""The article's claim as a race: on the adding problem a SimpleRNN stays at the baseline
while an LSTM learns it, and gradient flow shows why.

`adding_race` runs both models at each length (in parallel processes),
`race_rows` turns the records into a summary and `gradient_flow_curves`
collects the first and last gradient-flow probes of each run, ready for
rnnlab.plots.gradient_flow.
"""

from .config import make_config
from .grid import run_grid
from .runner import read_record

LABELS = {"simplernn": "SimpleRNN", "lstm": "LSTM"}


def race_configs(lengths, steps, hidden=64, lr=1e-3, seed=0, eval_every=None, test_size=1000, probe_size=32):
    """The LSTM's and the SimpleRNN's configs at every length.

    `steps` is a number or {"lstm": n, "simplernn": m}. The LSTM stops at the first
    evaluation that solves the task; the SimpleRNN always runs all its steps.
    """
    steps = steps if isinstance(steps, dict) else {"lstm": steps, "simplernn": steps}
    configs = []
    for model in ("lstm", "simplernn"):
        for length in sorted(lengths, reverse=True):
            n = steps[model]
            configs.append(
                make_config(
                    "adding",
                    model,
                    length=length,
                    hidden=hidden,
                    lr=lr,
                    steps=n,
                    seed=seed,
                    eval_every=eval_every or max(1, n // 20),
                    probe_every=n,
                    test_size=test_size,
                    probe_size=probe_size,
                    stop_on_success=model == "lstm",
                )
            )
    return configs


def adding_race(out_dir, lengths, steps, workers=2, on_done=None, reuse=False, **options):
    """Run race_configs(...) in `workers` processes; returns the records in config order.

    reuse=True takes records already under out_dir instead of running their configs again.
    """
    configs = race_configs(lengths, steps, **options)
    failed = {}
    paths = run_grid(
        configs, out_dir, workers=workers, figures=False, reuse=reuse, on_done=on_done, on_failed=failed.__setitem__
    )
    if failed:  # the race compares every pair: a missing run is the race's failure, after all others ran
        raise RuntimeError("the race lacks runs that failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return [read_record(p) for p in paths]


def race_rows(records):
    """[{model, length, steps, mse, best_mse, baseline, test_baseline, solved, first_solved_step, stopped, wall_s}].

    Sorted by length, SimpleRNN first; best_mse is the lowest test MSE after step 0 (None when none is finite);
    mse is None and stopped says "non-finite at step N" for a run that diverged.
    """
    rows = [
        {
            "model": LABELS[r["config"]["model"]],
            "length": r["config"]["length"],
            "steps": r["final"]["step"],
            "mse": r["final"]["mse"],
            "best_mse": min((e["test_mse"] for e in r["evaluations"][1:] if e["test_mse"] is not None), default=None),
            "baseline": r["task"]["baseline"],
            "test_baseline": r["task"]["test_baseline"],
            "solved": r["final"]["solved"],
            "first_solved_step": r["final"]["first_solved_step"],
            "stopped": r["final"].get("stopped"),
            "wall_s": r["timing"]["wall_s"],
        }
        for r in records
    ]
    return sorted(rows, key=lambda row: (row["length"], row["model"] != "SimpleRNN"))


def diverged(row):
    """True for a race row whose run stopped on a non-finite value (its final test MSE is then None)."""
    return row["stopped"] is not None or row["mse"] is None


def verdict(row):
    """A race row's outcome in words: solved, learned part of it, at the baseline, or diverged."""
    if diverged(row):
        best = row["best_mse"]
        before = "no finite test MSE" if best is None else f"best test MSE before it {best:.4f}"
        return f"diverged: {row['stopped'] or 'non-finite test MSE'}, {before}"
    if row["solved"]:
        return f"solved at step {row['first_solved_step']}"
    if row["best_mse"] is None:
        return "not evaluated after step 0"
    if row["best_mse"] < row["test_baseline"] / 2:
        return f"learned part of it (best {row['best_mse']:.4f}), not solved"
    closest = "never below" if row["best_mse"] >= row["test_baseline"] else "never far below"
    return f"{closest} the baseline (best {row['best_mse']:.4f}; always answering 1: {row['test_baseline']:.4f})"


def number(value, spec=".4f"):
    """A race table's number, or "—" where the run left none (non-finite, stored as null)."""
    return "—" if value is None else format(value, spec)


def race_histories(records, length):
    """{label: {"test_mse": [...], "train_loss": [...], "step": [...]}} of the runs at `length`.

    train_loss is the mean training loss over the steps since the evaluation before (None at step 0).
    """
    out = {}
    for r in records:
        if r["config"]["length"] == length:
            rows = [e for e in r["evaluations"] if e["test_mse"] is not None]
            out[LABELS[r["config"]["model"]]] = {
                "test_mse": [e["test_mse"] for e in rows],
                "train_loss": [e["train_loss"] for e in rows],
                "step": [e["step"] for e in rows],
            }
    return out


def _finite(flow):
    """A gradient-flow probe without non-finite values (stored as null in the record)."""
    return flow["rate_h"] is not None and all(v is not None for v in flow["h"])


def gradient_flow_curves(records, length):
    """{label: gradient_flow} at initialisation and at the end of training for the runs at `length`; a probe
    holding non-finite values (a run that diverged) is left out: see left_out_probes."""
    out = {}
    for r in records:
        if r["config"]["length"] == length and r["gradient_flow"]:
            first, last = r["gradient_flow"][0], r["gradient_flow"][-1]
            name = LABELS[r["config"]["model"]]
            for flow in (first, last) if last["step"] != first["step"] else (first,):
                if _finite(flow):
                    out[f"{name}, step {flow['step']}"] = flow
    return out


def left_out_probes(records, length):
    """Labels of the probes gradient_flow_curves leaves out at `length`, their values not finite."""
    out = []
    for r in records:
        if r["config"]["length"] == length and r["gradient_flow"]:
            first, last = r["gradient_flow"][0], r["gradient_flow"][-1]
            for flow in (first, last) if last["step"] != first["step"] else (first,):
                if not _finite(flow):
                    out.append(f"{LABELS[r['config']['model']]}, step {flow['step']}")
    return out
