"""The fixtures of tests/credit: defined with their builders in `tests/builders/credit.py`."""

from tests.builders.credit import _keep_demo_villages, credit  # noqa: F401
