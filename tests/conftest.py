"""Test-wide settings.

Hypothesis runs derandomised (the same examples every run, no example database) unless
``HYPOTHESIS_PROFILE=explore`` is set, which draws 10× more random examples (used by
``benchmarks/soak.py --properties`` and by hand when hunting for counter-examples).
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
