"""The fixtures of tests/catalog: defined with their builders in `tests/builders/catalog.py`."""

from tests.builders.catalog import bank_ctx, other_bank, regulator_headers  # noqa: F401
