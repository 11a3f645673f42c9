"""The fixtures of tests/supervision: defined with their builders in `tests/builders/supervision.py`."""

from tests.builders.supervision import stats  # noqa: F401
