"""The fixtures of tests/webhooks: defined with their builders in `tests/builders/webhooks.py`."""

from tests.builders.webhooks import bank_ctx, receiver  # noqa: F401
