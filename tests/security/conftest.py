from __future__ import annotations

from tests.agents.conftest import _keep_demo_villages

__all__ = ["_keep_demo_villages"]
