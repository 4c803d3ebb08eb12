"""Speed benchmark (the same as `rnnlab bench speed`): python benchmarks/speed.py [--quick] [--json out.json]."""

import sys

from rnnlab.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "speed", *sys.argv[1:]]))
