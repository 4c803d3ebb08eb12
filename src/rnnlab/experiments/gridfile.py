"""Grid files: one comparison grid in TOML (or YAML), checked whole before anything runs.

    task = "adding"
    models = ["simplernn", "lstm"]
    lengths = [100, 200, 400]
    seeds = 3
    hidden = 128          # any other key is a run option (rnnlab run's defaults otherwise)
    steps = 5000

`read_grid(path)` returns {"task", "models", "lengths", "seeds", "options"};
the runs are counted (not built) and one config per (model, length) is built
and checked, so a typo, an unknown task, a negative length or a grid of more
than `max_runs` runs stops the grid before its first run. TOML needs Python 3.11
(tomllib) or the tomli package; YAML needs PyYAML (which dask installs).
"""

import difflib
import os

from ..checks import is_int
from .config import DEFAULTS, MODELS, TASKS
from .grid import MAX_RUNS, grid_configs, grid_points, grid_size

GRID_KEYS = ("task", "models", "lengths", "seeds")
TASK_ALIASES = {"copy_memory": "copy"}


def _hint(word, options):
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _load(path):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ImportError("reading a TOML grid file needs Python >= 3.11 or tomli: pip install tomli") from None
        with open(path, "rb") as f:
            try:
                return tomllib.load(f)
            except tomllib.TOMLDecodeError as err:
                raise ValueError(f"{path}: not valid TOML: {err}") from None
    if ext in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("reading a YAML grid file needs PyYAML: pip install pyyaml") from None
        with open(path, encoding="utf-8") as f:
            try:
                return yaml.safe_load(f)
            except yaml.YAMLError as err:
                raise ValueError(f"{path}: not valid YAML: {err}") from None
    raise ValueError(f"grid file expected a name ending in .toml, .yaml or .yml, got {os.path.basename(path)!r}")


def _lengths(value):
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("lengths expected a non-empty list, got []")
    for k, v in enumerate(values):
        if not is_int(v) or v <= 0:
            raise ValueError(f"lengths[{k}] expected a positive integer, got {v!r}")
    return values


def check_grid(data, max_runs=MAX_RUNS):
    """Validate a grid read from a file (a dict); returns {"task", "models", "lengths", "seeds", "options"}.

    max_runs: the most runs the grid may hold (None: no limit), counted without building them."""
    if not isinstance(data, dict):
        raise ValueError(f"grid expected a table of keys such as {list(GRID_KEYS)}, got {type(data).__name__}")
    known = (*GRID_KEYS, *(k for k in DEFAULTS if k != "seed"))  # the grid sets each run's seed
    for key in data:
        if key not in known:
            raise ValueError(f"unknown key {key!r}{_hint(key, known)}; expected keys among {sorted(known)}")
    missing = [k for k in GRID_KEYS if k not in data]
    if missing:
        raise ValueError(f"grid expected the keys {list(GRID_KEYS)}, missing {missing}")
    task = TASK_ALIASES.get(data["task"], data["task"])
    if task not in TASKS:
        raise ValueError(f"task expected one of {list(TASKS)}, got {data['task']!r}{_hint(data['task'], TASKS)}")
    models = data["models"] if isinstance(data["models"], list) else [data["models"]]
    if not models:
        raise ValueError("models expected a non-empty list, got []")
    for k, m in enumerate(models):
        if m not in MODELS:
            raise ValueError(f"models[{k}] expected one of {list(MODELS)}, got {m!r}{_hint(m, MODELS)}")
    lengths = _lengths(data["lengths"])
    seeds = data["seeds"]
    if not is_int(seeds) or seeds <= 0:
        raise ValueError(f"seeds expected the number of seeds per combination (a positive integer), got {seeds!r}")
    options = {k: v for k, v in data.items() if k not in GRID_KEYS}
    grid = {"task": task, "models": models, "lengths": lengths, "seeds": seeds, "options": options}
    grid_size(models, lengths, seeds, max_runs)
    grid_points(task, models, lengths, **options)  # cross-key errors (digits lengths, chrono on a SimpleRNN) too
    return grid


def configs(grid, max_runs=MAX_RUNS, **overrides):
    """Every run of a checked grid, `overrides` (run options) taking precedence over the file's."""
    return grid_configs(
        grid["task"], grid["models"], grid["lengths"], grid["seeds"], max_runs, **{**grid["options"], **overrides}
    )


def read_grid(path, max_runs=MAX_RUNS):
    """Read and check the grid file at path (check_grid); errors name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"grid file {path!r} not found")
    data = _load(path)
    try:
        return check_grid(data, max_runs)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
