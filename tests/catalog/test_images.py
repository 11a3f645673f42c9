"""Image uploads: the happy path, and every attack answered with a 4xx problem, never a 500."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import httpx
from PIL import Image

from app.core.config import get_settings
from tests.builders.catalog import BankCtx, create, publish


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(buf, format=fmt, **save)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims huge dimensions (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


async def upload(client: httpx.AsyncClient, ctx: BankCtx, pid: str, data: bytes, name: str = "a.jpg") -> httpx.Response:
    return await client.post(
        f"/bank/products/{pid}/images", files={"file": (name, data, "application/octet-stream")}, headers=ctx.headers
    )


async def test_upload_strips_metadata_and_serves_with_long_cache(
    client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers
) -> None:
    p = await publish(client, bank_ctx, regulator_headers)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° on display
    exif[0x010F] = "SecretCam"
    data = image_bytes("JPEG", (80, 40), exif=exif.tobytes())
    r = await upload(client, bank_ctx, p["id"], data)
    assert r.status_code == 201, r.text
    img = r.json()
    assert img["url"].startswith("/media/products/") and img["thumbnail_url"].startswith("/media/products/")
    stored = Path(get_settings().media_root) / "products" / img["url"].rsplit("/", 1)[1]
    with Image.open(stored) as im:
        assert im.format == "JPEG" and im.size == (40, 80)  # orientation applied
        assert not im.getexif() and b"SecretCam" not in stored.read_bytes()
    async with httpx.AsyncClient(transport=client._transport, base_url="http://test") as raw:
        r = await raw.get(img["thumbnail_url"])
        assert r.status_code == 200 and "max-age=31536000" in r.headers["cache-control"]
    detail = (await client.get(f"/products/{p['id']}")).json()
    assert detail["images"] == [{"id": img["id"], "thumbnail_url": img["thumbnail_url"], "url": img["url"]}]
    for fmt, mode in (("PNG", "RGBA"), ("WEBP", "RGB")):
        r = await upload(client, bank_ctx, p["id"], image_bytes(fmt, mode=mode), name=f"x.{fmt.lower()}")
        assert r.status_code == 201, (fmt, r.text)


async def test_image_attacks_are_4xx(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    pid = (await create(client, bank_ctx))["id"]
    jpeg = image_bytes("JPEG", (400, 300))
    cases = {
        "not an image": (b"%PDF-1.7 definitely not an image", 415),
        "gif": (image_bytes("GIF"), 415),
        "bmp": (image_bytes("BMP"), 415),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
        "truncated jpeg": (jpeg[: len(jpeg) // 2], 422),
        "bomb png": (png_declaring(20_000, 20_000), 422),
        "just over 40 MP": (png_declaring(8000, 5001), 422),
        "empty": (b"", 422),
    }
    for label, (data, status) in cases.items():
        r = await upload(client, bank_ctx, pid, data)
        assert r.status_code == status, (label, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), label
        if "MP" in label or "bomb" in label:
            assert r.json()["errors"][0]["code"] == "image_too_large", label
        if "truncated" in label:
            assert r.json()["errors"][0]["code"] == "image_invalid", label
    big = b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024)
    r = await upload(client, bank_ctx, pid, big)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = await client.post(f"/bank/products/{pid}/images", headers=bank_ctx.headers)
    assert r.status_code == 422
    assert (await client.get(f"/bank/products/{pid}", headers=bank_ctx.headers)).json()["images"] == []
