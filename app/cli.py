"""Operations commands: `python -m app.cli <command>` (API.md "Operations")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app import wiring as _wiring  # noqa: F401 - every table and every cross-domain subscription
from app.core.config import ROOT, get_settings
from app.core.db import Database, session_scope
from app.core.logging import configure_logging
from app.seed import SEEDERS as SEEDERS  # the demo seeders, in order (app.seed owns the list)

COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], Awaitable[int]]]] = {}


def command(name: str, help_text: str) -> Callable[[Any], Any]:
    def deco(fn: Callable[[argparse.Namespace], Awaitable[int]]) -> Any:
        COMMANDS[name] = (help_text, fn)
        return fn

    return deco


def _db() -> Database:
    return Database(get_settings().database_url)


@command("create-user", "创建平台用户（admin 或 regulator）")
async def create_user(args: argparse.Namespace) -> int:
    from app.auth import users

    db = _db()
    try:
        async for session in session_scope(db):
            user = await users.create_platform_user(
                session,
                role=args.role,
                username=args.username,
                password=args.password,
                region_code=args.region_code,
            )
            print(json.dumps({"id": str(user.id), "username": user.username, "role": user.role}))
    finally:
        await db.dispose()
    return 0


@command("seed-demo", "加载演示数据（可重复执行）")
async def seed_demo(args: argparse.Namespace) -> int:
    db = _db()
    try:
        for seeder in SEEDERS:
            async for session in session_scope(db):
                await seeder(session)
    finally:
        await db.dispose()
    print("demo data loaded")
    return 0


@command("export-openapi", "重新生成 openapi/openapi.json")
async def export_openapi(args: argparse.Namespace) -> int:
    from app.main import create_app

    spec = create_app(start_worker=False).openapi()
    out = Path(args.output or ROOT / "openapi" / "openapi.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(  # noqa: ASYNC240 - a one-off CLI write
        json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"wrote {out}")
    return 0


@command("worker", "独立运行后台投递（webhook、短信通知、审计链封存）")
async def worker(args: argparse.Namespace) -> int:
    from app.core.redis import make_redis
    from app.worker import run_forever

    db = _db()
    try:
        await run_forever(db, make_redis(get_settings().redis_url))
    finally:
        await db.dispose()
    return 0


@command("verify-audit", "校验审计链（密钥链、链头签名、检查点），报告第一处断裂")
async def verify_audit(args: argparse.Namespace) -> int:
    from app.auditlog.regions import fill_regions
    from app.core import audit

    checkpoints = audit.read_checkpoints(args.checkpoint) if args.checkpoint else None
    db = _db()
    try:
        if not args.no_seal:
            # The sealer refuses a rewritten head (ChainBroken); the verification below names what is wrong.
            with contextlib.suppress(audit.ChainBroken):
                await audit.seal(db.sessionmaker, prepare=fill_regions)
        async for session in session_scope(db):
            ok, message = await audit.verify_chain(session, checkpoints)
            print(message)
            return 0 if ok else 1
    finally:
        await db.dispose()
    return 1


@command("snapshot-stats", "保存当日（北京时间）的覆盖统计快照（同日重复执行则替换）")
async def snapshot_stats(args: argparse.Namespace) -> int:
    from app.core.dates import china_today
    from app.supervision import service

    db = _db()
    try:
        async for session in session_scope(db):
            count = await service.take_snapshot(session)
            day = china_today().isoformat()
        print(json.dumps({"date": day, "regions": count}))
    finally:
        await db.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(prog="python -m app.cli", description="普惠通 API 运维命令")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-user", help=COMMANDS["create-user"][0])
    p.add_argument("--role", required=True, choices=["admin", "regulator"])
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--region-code", default=None)
    sub.add_parser("seed-demo", help=COMMANDS["seed-demo"][0])
    p = sub.add_parser("export-openapi", help=COMMANDS["export-openapi"][0])
    p.add_argument("--output", default=None)
    sub.add_parser("worker", help=COMMANDS["worker"][0])
    p = sub.add_parser("verify-audit", help=COMMANDS["verify-audit"][0])
    p.add_argument("--no-seal", action="store_true", help="只校验，不先封存待封存的记录")
    p.add_argument("--checkpoint", default=None, help="签名检查点文件（AUDIT_CHECKPOINT_PATH 的副本），逐条核对")
    for name, (help_text, _) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(COMMANDS[args.command][1](args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
