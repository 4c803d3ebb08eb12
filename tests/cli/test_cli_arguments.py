"""Every argument of every verb, walked from the argparse parsers themselves: a value out of range or of the
wrong type is exit status 2 and one line on stderr, before any work; output paths are checked before
training; Ctrl-C is exit 130 and one line; a bug is a traceback with a line asking to report it."""

import argparse
import os
import signal
import subprocess
import sys
import time

import pytest

from rnnlab import checks, cli
from rnnlab.cli import argtypes


def _verbs(parser, prefix=()):
    """(verb words, parser) for every leaf sub-command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _verbs(sub, prefix + (name,))


def _value_arguments(parser):
    """The actions that take a value (positional or option)."""
    return [
        a
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and a.nargs != 0
    ]


def _is_numeric(action):
    return isinstance(action.type, argtypes.numeric_types())


def _bad_values(action):
    """Values outside the type's range, absurdly large ones, and values of the wrong type."""
    t = action.type
    item = t.item if isinstance(t, argtypes.IntList) else t
    bad = ["abc", "", "1,x" if isinstance(t, argtypes.IntList) else "1.5" if item.kind is int else "nan"]
    if item.kind is float:
        bad += ["inf", "1e400", "-inf"]
    for value in (0, -1, -5, item.minimum - 1):  # 0 and negatives wherever the type refuses them
        if value < item.minimum or (value == item.minimum and item.exclusive_minimum):
            bad.append(str(value))
    huge = 10**30 if item.maximum is None else (item.maximum + 1 if item.kind is int else item.maximum * 10)
    if item.maximum is not None or item.memory is not None:
        bad.append(str(huge))
    return sorted(set(bad))


def _argv(verb, action, value):
    """verb's command line with `value` for action and valid values for the required others."""
    parser = dict(_verbs(cli.build_parser()))[verb]
    argv = list(verb)
    for other in _value_arguments(parser):
        if other is action or not (other.required or not other.option_strings):
            continue
        if other.choices:
            filler = sorted(other.choices)[0]
        elif other.type in (argtypes.input_file,):
            filler = __file__
        else:
            filler = "out.x"
        if other.option_strings:
            argv += [other.option_strings[0], filler]
        elif other.nargs not in ("?", "*"):
            argv.append(filler)
    if action.option_strings:
        return argv + [f"{action.option_strings[0]}={value}"]
    return argv + [value]


def _cases():
    cases = []
    for verb, parser in _verbs(cli.build_parser()):
        for action in _value_arguments(parser):
            if _is_numeric(action):
                cases += [(verb, action.dest, value) for value in _bad_values(action)]
    return cases


CASES = _cases()


def test_every_numeric_argument_has_a_checked_type():
    unchecked = []
    for verb, parser in _verbs(cli.build_parser()):
        for action in _value_arguments(parser):
            if action.type in (int, float) or (
                action.default is not None
                and not isinstance(action.default, str)
                and isinstance(action.default, (int, float))
                and not _is_numeric(action)
            ):
                unchecked.append(f"{' '.join(verb)} {action.option_strings or action.dest}")
    assert unchecked == []
    assert len({(v, d) for v, d, _ in CASES}) >= 60  # the walk reached the numeric arguments of every verb


def test_every_bad_value_is_exit_2_and_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures = []
    for verb, dest, value in CASES:
        parser = dict(_verbs(cli.build_parser()))[verb]
        (action,) = [a for a in _value_arguments(parser) if a.dest == dest]
        argv = _argv(verb, action, value)
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        if exit_.value.code != 2 or len(lines) != 1 or "Traceback" in err or not err.startswith("rnnlab "):
            failures.append((argv, exit_.value.code, err))
    assert failures == []
    assert os.listdir(tmp_path) == []  # nothing ran, nothing written


@pytest.mark.parametrize(
    "argv, says",
    [
        (["text", "train", __file__, "--out", "m.rnnlab", "--layers", "0"], "--layers"),
        (["text", "train", __file__, "--out", "m.rnnlab", "--embed", "0"], "--embed"),
        (["text", "train", __file__, "--out", "m.rnnlab", "--seq-len", "0"], "--seq-len"),
        (["text", "train", __file__, "--out", "m.rnnlab", "--seq-len", "-3"], "--seq-len"),
        (["text", "train", __file__, "--out", "m.rnnlab", "--batch-size", "0"], "--batch-size"),
        (["text", "train", __file__, "--out", "m.rnnlab", "--epochs", "0"], "--epochs"),
        (["trace", "--show-units", "0"], "--show-units"),
        (["cluster", "up", "--port", "-5"], "--port"),
        (["run", "adding", "--hidden", "2000000"], "would need at least"),
        (["run", "adding", "--test-size", "2000000000"], "--test-size"),
        (["compare", "adding", "--seeds", "100000000"], "--seeds"),
    ],
)
def test_the_reported_mistakes_are_refused_in_one_line(argv, says, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and says in err


def test_a_run_too_big_for_memory_is_refused_before_it_starts(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "physical_memory", lambda: 8 * 10**9)  # the same on every machine
    # each value fits its own range; together (4,000 LSTM units on batches of 100,000) they need TBs
    argv = ["run", "adding", "--hidden", "4000", "--batch", "100000", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "would need at least" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_a_grid_file_with_huge_seeds_is_refused_with_its_count(capsys, tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text('task = "adding"\nmodels = ["lstm"]\nlengths = [10]\nseeds = 100000000\n')
    t = time.perf_counter()
    assert cli.main(["compare", "--grid", str(grid), "--out", str(tmp_path / "out")]) == 1  # the file's mistake
    assert time.perf_counter() - t < 5  # counted, not built
    err = capsys.readouterr().err
    assert "g.toml: grid expected at most 100,000 runs, got 100,000,000" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("make_out", ["file", "parent_is_file"])
@pytest.mark.parametrize(
    "verb",
    [
        ["run", "adding"],
        ["compare", "adding"],
        ["lesson", "memory"],
        ["demo"],
    ],
)
def test_output_folders_are_checked_before_any_work(verb, make_out, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if make_out == "file" else tmp_path / "f" / "sub"
    with pytest.raises(SystemExit) as exit_:
        cli.main(verb + ["--out", str(out)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--out" in err and "is a file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["text", "train", __file__, "--out", "{d}"],
        ["text", "train", __file__, "--out", "m.rnnlab", "--plot", "{d}"],
        ["export", __file__, "--onnx", "{d}"],
        ["export", __file__, "--keras-weights", "{f}/x.h5"],
        ["plot", "activations", "--out", "{d}"],
        ["explore", __file__, "--text", __file__, "--out", "{d}"],
        ["bench", "speed", "--json", "{d}"],
        ["trace", "--out", "{f}/x.png"],
    ],
)
def test_output_files_are_checked_before_any_work(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    argv = [a.format(d=tmp_path / "d", f=tmp_path / "f") for a in argv]
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "is a folder" in err or "is a file" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.main(["text", "train", __file__, "--out", str(ro / "m.rnnlab")])
    finally:
        ro.chmod(0o700)
    assert exit_.value.code == 2 and "not writable" in capsys.readouterr().err


def test_a_directory_as_corpus_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["text", "train", str(tmp_path), "--out", str(tmp_path / "m.rnnlab")])
    assert exit_.value.code == 2 and "is a folder; expected a file" in capsys.readouterr().err


def _rnnlab(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from rnnlab.cli import main; sys.exit(main())", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.timeout(120)
def test_ctrl_c_during_run_exits_130_with_one_line(tmp_path):
    proc = _rnnlab(
        [
            "run",
            "adding",
            "--hidden",
            "32",
            "--steps",
            "100000",
            "--length",
            "50",
            "--no-figures",
            "--out",
            str(tmp_path),
        ]
    )
    first = proc.stdout.readline()  # the run's first line: it is training now
    assert first.startswith("rnnlab run:")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # anything else: the traceback says where the interrupt landed
    assert err.strip().splitlines() == [
        "rnnlab run: interrupted; no record of this run was written; the same command starts it again"
    ]
    assert os.listdir(tmp_path) == []


def test_an_error_from_what_a_ctrl_c_interrupted_is_an_interruption_not_a_bug(tmp_path, monkeypatch, capsys):
    # numba's compiler, interrupted, raises an error of its own (RuntimeError: no compiled object yet)
    from rnnlab import interrupts
    from rnnlab.cli import main as cli_main
    from rnnlab.cli import plot

    def broken(args):
        interrupts.hold()  # the Ctrl-C, held by the handler
        raise RuntimeError("no compiled object yet")

    monkeypatch.setattr(plot, "run_activations", broken)
    assert cli_main(["plot", "activations", "--out", str(tmp_path / "a.png")]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "rnnlab plot: interrupted; every file written so far is whole; nothing else was saved"
    ]
    assert not interrupts.pending()  # nothing left for later kernel calls


def test_a_bug_is_a_traceback_with_a_line_asking_to_report_it(tmp_path):
    # an error that is none of rnnlab's own (a KeyError from inside a verb) stands for a bug
    code = (
        "import sys; from rnnlab import cli; from rnnlab.cli import plot\n"
        "def boom(args): raise KeyError('injected')\n"
        "plot.run_activations.__code__ = boom.__code__\n"
        "sys.exit(cli.main(['plot', 'activations', '--out', sys.argv[1]]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a.png")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 70
    assert "Traceback" in proc.stderr and "KeyError: 'injected'" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("rnnlab plot: this is a bug in rnnlab")
