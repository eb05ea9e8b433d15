"""`python -m benchmarks.load`: see benchmarks/load/runner.py."""

import sys

from benchmarks.load.runner import main

sys.exit(main())
