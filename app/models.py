"""Every domain's tables, imported in one place for Alembic and the tests."""

from app.auth.models import ApiClient, DeletionRequest, EnterpriseProfile, RefreshToken, User  # noqa: F401
from app.banks.models import Bank, BankCounty  # noqa: F401
from app.catalog.models import ComplianceRule, Product, ProductCounty, ProductImage, ProductReview, ProductTerm  # noqa: F401
from app.consents.models import Consent, ConsentText  # noqa: F401
from app.core.audit import AuditChainHead, AuditEntry  # noqa: F401
from app.core.db import metadata  # noqa: F401
from app.core.idempotency import IdempotencyRecord  # noqa: F401
from app.credit.models import (  # noqa: F401
    Certificate,
    CertificateCounter,
    CertificateLedgerEntry,
    CertificatePolicy,
    CreditSetting,
    Household,
    Objection,
    RatingChange,
    RatingFactor,
    VillageCreditStats,
)
from app.demands.models import Demand, DemandOffer  # noqa: F401
from app.drawdowns.models import AreaLoanStat, Drawdown, DrawdownPolicy, Repayment  # noqa: F401
from app.enterprises.models import KeyEnterprise  # noqa: F401
from app.events.models import Event  # noqa: F401
from app.notifications.models import Notification  # noqa: F401
from app.regions.models import Region  # noqa: F401
from app.risk.models import BridgeLoan, CompensationClaim, FundEntry, RiskFund, RiskPolicy, SharingScheme  # noqa: F401
from app.stations.models import Station  # noqa: F401
from app.supervision.models import (  # noqa: F401
    CoverageSnapshot,
    VillageCertificateMonthStats,
    VillageCertificateStats,
    VillageCertificateYearStats,
    VillageHouseholdStats,
)
from app.webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: F401
