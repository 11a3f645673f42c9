from __future__ import annotations

from tests.builders.agents import _keep_demo_villages

__all__ = ["_keep_demo_villages"]
