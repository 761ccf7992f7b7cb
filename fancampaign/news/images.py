"""Uploaded images: checked by content, re-encoded and resized by Pillow, stored by content hash.

An upload is trusted for nothing: its name and declared type are ignored. Pillow must open
and verify it as one of the allowed formats; it is then decoded, turned upright (EXIF
orientation), re-encoded as WebP at a few widths without any metadata (EXIF, GPS, ICC),
and only then written, under a name made from the hash of the original bytes.

Cover images (and the site's logo and share image) keep their shape at a few widths; avatars
(`square=`) are cropped to a centred square of one size. Both go through the same checks.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from fancampaign.errors import InvalidInput

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
WIDTHS = (480, 960, 1600)
# Decoded size limit: a small file can still be a huge bitmap ("decompression bomb").
MAX_PIXELS = 40_000_000
MAX_SIDE = 12_000
QUALITY = 82


class InvalidImage(InvalidInput):
    message = "The cover image must be a JPEG, PNG or WebP picture."


class ImageTooLarge(InvalidInput):
    message = "The cover image is too large."


@dataclass
class ProcessedImage:
    """Encoded variants ready to be written: {width: WebP bytes}."""

    key: str
    variants: dict[int, bytes] = field(default_factory=dict)
    prefix: str = "news"

    @property
    def widths(self) -> list[int]:
        return sorted(self.variants)


def filename(key: str, width: int, prefix: str = "news") -> str:
    return f"{prefix}-{key}-{width}.webp"


def read_limited(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read at most max_bytes; refuse anything larger without reading it all."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        mb = max_bytes / (1024 * 1024)
        raise ImageTooLarge(f"The cover image is too large: at most {mb:g} MB, please.")
    return data


def process(data: bytes, *, square: int | None = None) -> ProcessedImage:
    """Check the bytes are an allowed image and make the resized, metadata-free variants;
    with `square`, one variant: the centred square, `square` pixels wide (an avatar)."""
    if not data:
        raise InvalidImage("The cover image file is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ALLOWED_FORMATS:
                    raise InvalidImage()
                width, height = probe.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise ImageTooLarge("The cover image has too many pixels.")
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
                variants = _encode_square(upright, square) if square else _encode_variants(upright)
    except (InvalidImage, ImageTooLarge):
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as exc:
        raise InvalidImage() from exc
    return ProcessedImage(
        key=hashlib.sha256(data).hexdigest()[:32],
        variants=variants,
        prefix="avatar" if square else "news",
    )


def read_upload(
    stream: IO[bytes], max_bytes: int, *, what: str, field: str, square: int | None = None
) -> ProcessedImage:
    """Read and process an upload (see `process`); its errors name it `what` ("Your
    picture") and carry the form's `field`. Raises InvalidImage or ImageTooLarge."""
    try:
        return process(read_limited(stream, max_bytes), square=square)
    except InvalidInput as err:
        raise type(err)(err.message.replace("The cover image", what), field=field) from err


def _encode_square(img: Image.Image, size: int) -> dict[int, bytes]:
    square = ImageOps.fit(img.convert("RGB"), (size, size), Image.LANCZOS)
    buf = io.BytesIO()
    square.save(buf, format="WEBP", quality=QUALITY, method=4)
    return {size: buf.getvalue()}


def _encode_variants(img: Image.Image) -> dict[int, bytes]:
    has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")
    widths = [w for w in WIDTHS if w <= img.width] or [img.width]
    if img.width > widths[-1] and widths[-1] != WIDTHS[-1]:
        widths.append(min(img.width, WIDTHS[-1]))
    out: dict[int, bytes] = {}
    for width in widths:
        height = max(1, round(img.height * width / img.width))
        resized = img if width == img.width else img.resize((width, height), Image.LANCZOS)
        buf = io.BytesIO()
        # No exif=, icc_profile= or xmp= arguments: the output carries no metadata.
        resized.save(buf, format="WEBP", quality=QUALITY, method=4)
        out[width] = buf.getvalue()
    return out


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def write(image: ProcessedImage) -> list[Path]:
    """Write the variants (atomically, each via a temporary file); returns the new paths."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for width, blob in image.variants.items():
        target = folder / filename(image.key, width, image.prefix)
        if target.exists():
            continue  # same content, same name: already there
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
