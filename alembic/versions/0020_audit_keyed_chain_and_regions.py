"""audit: keyed chain (HMAC) from a recorded sequence, signed head, region of each entry, sealed rows immutable

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-01 21:50:00

Rows sealed before this revision keep their plain SHA-256 links (re-sealing them would erase the evidence the
chain exists for): the head records `keyed_from_seq` = the next sequence, and is signed with AUDIT_KEY here, so
that the boundary cannot be moved later without the key. A trigger then refuses UPDATE and DELETE of sealed
entries (and TRUNCATE on PostgreSQL).
"""

import hashlib
import hmac
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0020'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_entries_sealed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'audit_entries cannot be truncated' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.chain_seq IS NOT NULL THEN
        RAISE EXCEPTION 'audit entry % is sealed and cannot be changed', OLD.chain_seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""


def _head_mac(seq: int, head_hash: str, keyed_from: int) -> str:
    from app.core.audit import audit_key  # AUDIT_KEY (or, outside prod, the key derived from SECRET_KEY)

    msg = f"head|{seq}|{head_hash}|{keyed_from}"
    return hmac.new(audit_key(), msg.encode(), hashlib.sha256).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_code', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.create_index('ix_audit_entries_region', ['region_code', 'created_at'], unique=False)
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keyed_from_seq', sa.BigInteger(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('mac', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    conn = op.get_bind()
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_chain_head WHERE id = 1")).first()
    if head is None:
        last = conn.execute(sa.text("SELECT max(chain_seq) FROM audit_entries")).scalar()
        if last is None:  # a fresh chain: keyed from the first link
            conn.execute(
                sa.text("INSERT INTO audit_chain_head (id, seq, hash, keyed_from_seq, mac) VALUES (1, 0, :h, 1, :m)"),
                {"h": GENESIS, "m": _head_mac(0, GENESIS, 1)},
            )
    else:
        seq, head_hash = int(head[0]), str(head[1])
        conn.execute(
            sa.text("UPDATE audit_chain_head SET keyed_from_seq = :k, mac = :m WHERE id = 1"),
            {"k": seq + 1, "m": _head_mac(seq, head_hash, seq + 1)},
        )

    if conn.dialect.name == "postgresql":
        op.execute(PG_GUARD)
        op.execute(
            "CREATE TRIGGER audit_entries_sealed BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_sealed_guard()"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_sealed_guard()"
        )
    elif conn.dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_sealed_{event.lower()} BEFORE {event} ON audit_entries "
                "WHEN OLD.chain_seq IS NOT NULL "
                "BEGIN SELECT RAISE(ABORT, 'audit entry is sealed and cannot be changed'); END"
            )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_sealed ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_sealed_guard()")
    elif conn.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_sealed_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_sealed_delete")
    with op.batch_alter_table('audit_chain_head', schema=None) as batch_op:
        batch_op.drop_column('mac')
        batch_op.drop_column('keyed_from_seq')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_region')
        batch_op.drop_column('region_code')
