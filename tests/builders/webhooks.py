"""A real HTTP receiver on 127.0.0.1 (asyncio streams, minimal HTTP/1.1) and helpers to drive delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI

from app.auth.models import User
from app.banks.models import Bank
from app.events.service import emit
from app.webhooks import delivery
from tests.factories import Factory


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """Answers each POST with the next status in `plan` (200 once the plan is used up)."""

    plan: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def succeeded(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = self.plan.pop(0) if self.plan else 200
            self.received.append(Received(path, headers, body, status))
            extra = f"Location: http://127.0.0.1:{self.port}/elsewhere\r\n" if 300 <= status < 400 else ""
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
    rec.port = server.sockets[0].getsockname()[1]
    async with server:
        yield rec
        server.close()


@dataclass
class BankCtx:
    bank: Bank
    admin: User
    headers: dict[str, str]


@pytest.fixture
async def bank_ctx(factory: Factory) -> BankCtx:
    bank = await factory.bank()
    admin = await factory.user("bank_admin", bank_id=bank.id)
    return BankCtx(bank, admin, factory.headers(admin))


async def drain(app: FastAPI, now: datetime | None = None, rounds: int = 50) -> int:
    """Run delivery passes until one does nothing; returns the number of passes that did something."""
    for busy in range(rounds):
        if not await delivery.run(app.state.db, now=now):
            return busy
    raise AssertionError("delivery did not settle")


async def emit_event(app: FastAPI, type: str, bank_id: Any, data: dict[str, Any]) -> str:
    async with app.state.db.sessionmaker() as s:
        event = await emit(s, type=type, bank_id=bank_id, data=data)
        await s.commit()
        return str(event.id)
