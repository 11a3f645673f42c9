"""Every cross-domain subscription (`app.core.hooks`), imported once by each entry point (the app, the worker,
the CLI) so that a signal published anywhere reaches its handlers whichever process publishes it.

Add a domain's subscriber module here when it subscribes to a signal.
"""

from __future__ import annotations

import app.models  # noqa: F401 - every table known before a handler runs
from app.supervision import counters as _counters  # noqa: F401 - credit.households_changed, certificate holders
