"""The fixtures of tests/demands: defined with their builders in `tests/builders/demands.py`."""

from tests.builders.demands import demands  # noqa: F401
from tests.builders.drawdowns import lending  # noqa: F401 - borrowers with a lead bank (privacy tests)
