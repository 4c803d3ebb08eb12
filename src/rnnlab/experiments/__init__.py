"""Experiments: one run from a config, grids of runs, their records, tables and figures.

config = make_config("adding", "lstm", length=100, steps=5000, seed=0)
record = run(config)               # a pure function: config -> JSON-able record
path = run_to_file(config, "results/")
records, files = compare("adding", ["simplernn", "lstm"], [10, 25, 50], 3, "results/")
"""

from .config import DEFAULTS, MODELS, TASKS, check_config, config_id, make_config, record_name
from .grid import (
    MAX_RUNS,
    compare,
    grid_configs,
    grid_points,
    grid_size,
    iter_grid_configs,
    markdown_table,
    run_grid,
    summarize,
)
from .runner import comparable, environment, read_record, run, run_to_file, write_json

__all__ = [
    "DEFAULTS",
    "MODELS",
    "TASKS",
    "check_config",
    "config_id",
    "make_config",
    "record_name",
    "MAX_RUNS",
    "compare",
    "grid_configs",
    "grid_points",
    "grid_size",
    "iter_grid_configs",
    "markdown_table",
    "run_grid",
    "summarize",
    "comparable",
    "environment",
    "read_record",
    "run",
    "run_to_file",
    "write_json",
]
