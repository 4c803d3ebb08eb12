"""Benchmarks that ship with the package: `rnnlab bench speed` (speed.py, contenders.py, memory.py)."""
