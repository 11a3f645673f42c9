"""The fixtures of tests/risk: defined with their builders in `tests/builders/risk.py`."""

from tests.builders.risk import no_isolation, risk  # noqa: F401
