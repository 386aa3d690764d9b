"""`make bench` only: production settings plus the baseline views the benchmarks compare with.

Never used in production: the bench-only URLconf (bench/urls.py) adds hand-written baseline
views and trivial endpoints next to the real gateway (it includes exampleapp.urls unchanged).
Everything else, including the refusal to start with an insecure configuration, is production's.
"""

from .production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
