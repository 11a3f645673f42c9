"""The fixtures of tests/auth: defined with their builders in `tests/builders/auth.py`."""

from tests.builders.auth import no_interval  # noqa: F401
