"""Long-memory benchmark tasks: seeded, vectorised generators with their baselines.

Each task module gives the generator, `baseline(...)` (the score of the best
predictor that ignores the input's memory-relevant part) and `solved(metric)`
(its success criterion). Sources: ../docs/RESULTS.md and the benchmark notes.
"""

from . import adding as adding_task
from . import copy_memory as copy_task
from . import digits as digits_task
from .adding import adding
from .copy_memory import copy_memory
from .digits import digits

__all__ = ["adding", "copy_memory", "digits", "adding_task", "copy_task", "digits_task"]
