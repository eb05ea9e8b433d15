# The benchmarks use the same personas, sandbox platform and database set-up as the tests.
from tests.conftest import *  # noqa: F403
