"""Credit's hold and release on the certificate row (what `POST /me/drawdowns` and the lending operations call):
the hold admits only an active, activated, unexpired certificate with room under its limit, atomically."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.core.dates import china_today
from app.credit import certificates
from app.credit.models import Certificate
from tests.builders.drawdowns import Lending


async def _money(lending: Lending, cert_id: object) -> tuple[int, int]:
    async with lending.factory.session() as s:
        c = await certificates.as_it_is_now(s, cert_id)  # type: ignore[arg-type]
        return c.pending_fen, c.outstanding_fen


async def test_hold_admits_up_to_the_limit_and_release_returns_it(lending: Lending) -> None:
    b = await lending.borrower(limit_fen=100_000)
    today = china_today()
    async with lending.factory.session() as s:
        assert await certificates.hold(s, b.certificate.id, 60_000, today) is True
        assert await certificates.hold(s, b.certificate.id, 40_001, today) is False  # 60,000 + 40,001 > limit
        assert await certificates.hold(s, b.certificate.id, 40_000, today) is True  # exactly the limit
        await s.commit()
    assert await _money(lending, b.certificate.id) == (100_000, 0)
    async with lending.factory.session() as s:
        await certificates.release(s, b.certificate.id, pending=-60_000, outstanding=60_000)  # a disbursement
        await certificates.release(s, b.certificate.id, outstanding=-10_000)  # a repayment
        await s.commit()
    assert await _money(lending, b.certificate.id) == (40_000, 50_000)


async def test_hold_refuses_a_certificate_that_cannot_be_drawn_on(lending: Lending) -> None:
    today = china_today()
    cases = {
        "frozen": {"status": "frozen"},
        "not activated": {"lead_bank_id": None},
        "expired today": {"expires_on": today},
        "expired by status": {"status": "expired", "expires_on": today + timedelta(days=30)},
    }
    for label, values in cases.items():
        b = await lending.borrower(limit_fen=100_000)
        async with lending.factory.session() as s:
            await s.execute(update(Certificate).where(Certificate.id == b.certificate.id).values(**values))
            await s.commit()
        async with lending.factory.session() as s:
            assert await certificates.hold(s, b.certificate.id, 1, today) is False, label
            await s.commit()
        assert await _money(lending, b.certificate.id) == (0, 0), label
