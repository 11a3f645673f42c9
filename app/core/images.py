"""Image uploads: the only module that imports Pillow (Pillow security notes, CVE history).

An allow-list of formats, a pixel limit checked from the header before decoding, a full decode, orientation
applied, and a re-encode that leaves every byte of metadata behind. Every Pillow failure becomes a 4xx.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed, field_error

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP")
DETAIL_SIZE = (1280, 1280)
THUMB_SIZE = (320, 320)

# Pillow's own guard, tightened to our limit: above it a warning (made an error below), above twice an error.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Processed:
    detail: bytes
    thumbnail: bytes
    width: int
    height: int


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(errors=[field_error("file", code, message)])


def _encode(im: Image.Image, box: tuple[int, int]) -> bytes:
    copy = im.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=82, optimize=True, progressive=True)
    return out.getvalue()


def process(data: bytes) -> Processed:
    """Blocking: call through `asyncio.to_thread`."""
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(("图片不能超过 5 MB", "The image is over 5 MB"))
    if not data:
        raise _invalid("image_empty", "文件为空")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise _invalid("image_too_large", "图片像素不能超过 4000 万")
                im.load()
                upright: Image.Image = ImageOps.exif_transpose(im)
                if upright.mode not in ("RGB", "L"):
                    rgba = upright.convert("RGBA")
                    upright = Image.new("RGB", rgba.size, (255, 255, 255))
                    upright.paste(rgba, mask=rgba.getchannel("A"))
                elif upright.mode == "L":
                    upright = upright.convert("RGB")
                return Processed(
                    _encode(upright, DETAIL_SIZE), _encode(upright, THUMB_SIZE), upright.width, upright.height
                )
    except UnidentifiedImageError as exc:
        raise UnsupportedMediaType(("仅支持 JPEG、PNG、WebP 图片", "Only JPEG, PNG and WebP images")) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _invalid("image_too_large", "图片像素不能超过 4000 万") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise _invalid("image_invalid", "图片已损坏或不完整") from exc


def store(root: str, subdir: str, processed: Processed) -> tuple[str, str]:
    """Blocking: writes both renditions under random names; returns (detail_name, thumbnail_name)."""
    folder = Path(root) / subdir
    folder.mkdir(parents=True, exist_ok=True)
    stem = secrets.token_urlsafe(18)
    detail, thumb = f"{stem}.jpg", f"{stem}-t.jpg"
    (folder / detail).write_bytes(processed.detail)
    (folder / thumb).write_bytes(processed.thumbnail)
    return detail, thumb
