"""Every domain's tables, imported in one place for Alembic and the tests."""

from app.auth.models import User  # noqa: F401
from app.banks.models import Bank, BankCounty  # noqa: F401
from app.core.audit import AuditChainHead, AuditEntry  # noqa: F401
from app.core.db import metadata  # noqa: F401
from app.core.idempotency import IdempotencyRecord  # noqa: F401
from app.credit.models import Certificate, Household  # noqa: F401
from app.events.models import Event  # noqa: F401
from app.notifications.models import Notification  # noqa: F401
from app.regions.models import Region  # noqa: F401
from app.stations.models import Station  # noqa: F401
