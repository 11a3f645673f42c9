"""revocations: revoked tokens, sessions and account cut-offs (PostgreSQL is the source of truth, Redis the cache)

Revision ID: 0019
Revises: 0023
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.core.db


revision: str = '0019'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('revocations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('not_before', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revocations'))
    )
    with op.batch_alter_table('revocations', schema=None) as batch_op:
        batch_op.create_index('ix_revocations_kind_subject', ['kind', 'subject'], unique=False)
        batch_op.create_index(batch_op.f('ix_revocations_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revocations_expires_at'))
        batch_op.drop_index('ix_revocations_kind_subject')
    op.drop_table('revocations')
