"""Every cross-domain subscription (`app.core.hooks`), imported once by each entry point (the app, the worker,
the CLI) so that a signal published anywhere reaches its handlers whichever process publishes it.

Add a domain's subscriber module here when it subscribes to a signal.
"""

from __future__ import annotations

import app.models  # noqa: F401 - every table known before a handler runs
from app.banks import service as _banks  # noqa: F401 - answers auth.bank_active
from app.credit import linking as _linking  # noqa: F401 - answers auth.household_of, auth.identity_set
from app.credit import rates as _credit_rates  # noqa: F401 - answers catalog.household_terms
from app.demands import links as _demand_links  # noqa: F401 - credit.household_linked: demands get the household
from app.drawdowns import admission as _drawdowns_admission  # noqa: F401 - answers credit.drawing_state
from app.enterprises import service as _enterprises  # noqa: F401 - auth.key_enterprise, auth.enterprise_changed
from app.risk import claims as _risk_claims  # noqa: F401 - drawdowns.written_off_repaid: 冲回 to the fund
from app.supervision import counters as _counters  # noqa: F401 - counts credit.household_linked, credit.households_changed, certificate holders
