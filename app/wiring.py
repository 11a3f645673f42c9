"""Every cross-domain subscription (`app.core.hooks`), imported once by each entry point (the app, the worker,
the CLI) so that a signal published anywhere reaches its handlers whichever process publishes it.

Add a domain's subscriber module here when it subscribes to a signal.
"""

from __future__ import annotations

import app.models  # noqa: F401 - every table known before a handler runs
from app.credit import rates as _credit_rates  # noqa: F401 - answers catalog.household_terms
from app.drawdowns import admission as _drawdowns_admission  # noqa: F401 - answers credit.drawing_state
