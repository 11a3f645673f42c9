"""The fixtures of tests/drawdowns: defined with their builders in `tests/builders/drawdowns.py`."""

from tests.builders.drawdowns import lending  # noqa: F401
