"""The fixtures of tests/multiprocess: defined with their builders in `tests/builders/multiprocess.py`."""

from tests.builders.multiprocess import apis, clients  # noqa: F401
