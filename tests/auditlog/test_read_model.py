"""The audit log's read model names other domains' tables and columns: each must exist with the same type."""

from __future__ import annotations

from sqlmodel import SQLModel

import app.models  # noqa: F401 - every table in the metadata
from app.auditlog import read_model


def test_every_column_of_the_read_model_is_a_column_of_its_owner() -> None:
    tables = SQLModel.metadata.tables
    for t in read_model.TABLES:
        assert t.name in tables, t.name
        for c in t.columns:
            owned = tables[t.name].c
            assert c.name in owned, f"{t.name}.{c.name}"
            assert owned[c.name].type._type_affinity is c.type._type_affinity, f"{t.name}.{c.name}"
