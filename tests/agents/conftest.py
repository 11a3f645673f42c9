"""The fixtures of tests/agents: defined with their builders in `tests/builders/agents.py`."""

from tests.builders.agents import _keep_demo_villages, agents  # noqa: F401
