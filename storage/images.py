"""Image inspection and normalisation, shared by storage uploads and AI photo recognition.

Everything a client sends is treated as hostile: the type comes from the bytes (Pillow's
own parsers, limited to the formats we accept), the pixel count is capped before anything
is decoded, Pillow's decompression-bomb warning is an error, and what leaves here is always
a fresh encode of the pixels alone, so EXIF (GPS included), XMP, ICC and text chunks never
survive.
"""

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
from django.conf import settings
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from fitness.api.errors import ApiError, ServiceUnavailable
from fitness.error_codes import ErrorCode

pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class ImageFormat:
    content_type: str
    extension: str


# Pillow format name → what we call it. Only these parsers ever see client bytes.
ACCEPTED_FORMATS: dict[str, ImageFormat] = {
    "JPEG": ImageFormat("image/jpeg", "jpg"),
    "PNG": ImageFormat("image/png", "png"),
    "WEBP": ImageFormat("image/webp", "webp"),
    "HEIF": ImageFormat("image/heif", "heic"),
}
# Formats we write. HEIC is accepted but stored as JPEG, which every client can display.
OUTPUT_FORMATS: dict[str, ImageFormat] = {
    name: ACCEPTED_FORMATS[name] for name in ("JPEG", "PNG", "WEBP")
}
# Pillow names some JPEGs "MPO" (multi-picture: phone photos carrying an HDR gain map or
# a depth map); only their first, ordinary picture is kept.
_SOURCE_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}
_STORED_AS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "JPEG"}
_SAVE_OPTIONS: dict[str, dict] = {
    "JPEG": {"quality": 85},
    "PNG": {},
    "WEBP": {"quality": 85},
}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class InvalidImage(ApiError):
    code = ErrorCode.INVALID_IMAGE
    message = "The file is not a readable image."


class UnsupportedImageType(InvalidImage):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    message = "Only JPEG, PNG, WebP and HEIC/HEIF images are accepted."


class ImageTooLarge(InvalidImage):
    code = ErrorCode.IMAGE_TOO_LARGE
    message = "The image has too many pixels."


class DecoderBusy(ServiceUnavailable):
    """Every decode slot of this process stayed taken for STORAGE_DECODE_WAIT_SECONDS."""

    message = "The server is busy processing other images. Try again shortly."

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, details={"reason": "busy"})


# A 40 MP decode holds 120-160 MB for a second or more: a few at once can exhaust a worker,
# so each process decodes at most STORAGE_MAX_CONCURRENT_DECODES images at a time. Django
# runs sync views in threads under ASGI (and Celery's prefork children are processes with
# their own bound), hence a threading semaphore, one per configured size.
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()
_held = threading.local()


def _semaphore() -> threading.BoundedSemaphore:
    size = settings.STORAGE_MAX_CONCURRENT_DECODES
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


@contextmanager
def decode_slot() -> Iterator[None]:
    """Holds one of the process's decode slots for the block; raises DecoderBusy (503)
    when none frees up in time. Re-entrant per thread, so a caller can hold its slot over
    a decode and the encodes that follow (the decoded pixels are the memory)."""
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    semaphore = _semaphore()
    wait = settings.STORAGE_DECODE_WAIT_SECONDS
    if not semaphore.acquire(timeout=wait):
        raise DecoderBusy(retry_after=max(1, round(wait)))
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        semaphore.release()


@dataclass(frozen=True)
class DecodedImage:
    """Decoded pixels, upright, in an sRGB-ish mode that every output format can take,
    with no metadata attached."""

    image: Image.Image
    source_format: str

    @property
    def stored_format(self) -> str:
        return _STORED_AS[self.source_format]


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    format: str
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return OUTPUT_FORMATS[self.format].content_type

    @property
    def extension(self) -> str:
        return OUTPUT_FORMATS[self.format].extension

    @property
    def size(self) -> int:
        return len(self.data)


def probe_image(source: BinaryIO, *, max_pixels: int) -> int:
    """The pixel count the image's header declares, read without decoding any pixels.

    Raises what decode_image would for a type, header or pixel-cap problem.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image, _ = _open(source, max_pixels=max_pixels)
    # Not image.close(): that would close the caller's file too.
    source.seek(0)
    return image.width * image.height


def decode_image(source: BinaryIO, *, max_pixels: int, max_side: int | None = None) -> DecodedImage:
    """Identifies the image from its bytes and decodes its first frame, in a decode slot.

    `max_side` says that nothing larger than that (long side) will be made from it: a
    JPEG is then decoded at the smallest of 1/2, 1/4 or 1/8 scale that still covers it,
    a fraction of the memory and time of a full decode.

    Raises UnsupportedImageType (415) for anything that is not an accepted image format,
    ImageTooLarge (400) past `max_pixels` or on Pillow's bomb check, InvalidImage (400)
    for an accepted format whose bytes do not decode, DecoderBusy (503) when no decode
    slot frees up in time.
    """
    with decode_slot(), warnings.catch_warnings():
        # catch_warnings is process-wide and not thread-safe; the explicit `max_pixels`
        # check in _open (40 MP, under Pillow's bomb threshold) is the guard that always
        # holds.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image, source_format = _open(source, max_pixels=max_pixels)
        try:
            if max_side and image.format in ("JPEG", "MPO") and max(image.size) > max_side:
                image.draft(None, _covering(image.size, max_side))
            image.load()
            # In place, and no copy where the mode is already plain: the pixels of a large
            # image are held once, not three times over.
            ImageOps.exif_transpose(image, in_place=True)
            icc_profile = image.info.get("icc_profile")
            clean = _to_srgb(image, icc_profile) if icc_profile else _plain_mode(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(max_pixels) from exc
        except Exception as exc:
            raise InvalidImage() from exc
    clean.info = {}
    return DecodedImage(image=clean, source_format=source_format)


def _open(source: BinaryIO, *, max_pixels: int) -> tuple[Image.Image, str]:
    """The lazily opened image (header read, no pixels) and its source format."""
    source.seek(0)
    try:
        image = Image.open(source, formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError as exc:
        raise UnsupportedImageType() from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(max_pixels) from exc
    except Exception as exc:
        # Pillow's parsers raise many types on malformed headers; all mean bad bytes.
        raise InvalidImage() from exc
    source_format = _SOURCE_FORMAT.get(image.format or "")
    if source_format is None:
        raise UnsupportedImageType()
    if image.width * image.height > max_pixels:
        raise _too_large(max_pixels)
    return image, source_format


def _covering(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size, same aspect, whose long side is `max_side`: JPEG draft picks the
    smallest scale at least this large in both directions."""
    scale = max_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def encode_image(
    decoded: DecodedImage, *, output_format: str | None = None, max_side: int | None = None
) -> EncodedImage:
    """Encodes fresh bytes (no metadata), shrunk to `max_side` on the long side if larger.

    `output_format` defaults to the format the source is stored as (HEIF → JPEG).
    """
    fmt = output_format or decoded.stored_format
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"cannot encode {fmt}")
    image = decoded.image
    if max_side and max(image.size) > max_side:
        # A resize, not copy() + thumbnail(): no full-size copy of the pixels. The reducing
        # gap first box-reduces by a whole factor (cheap), then resamples what is left.
        image = image.resize(
            _covering(image.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0
        )
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = _flatten(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **_SAVE_OPTIONS[fmt])
    return EncodedImage(data=buffer.getvalue(), format=fmt, width=image.width, height=image.height)


def normalise_image(
    source: BinaryIO,
    *,
    max_pixels: int,
    max_side: int | None = None,
    output_format: str | None = None,
) -> EncodedImage:
    """decode_image + encode_image: the whole check-and-clean in one call, in one decode
    slot, decoding no more than `max_side` needs."""
    with decode_slot():
        decoded = decode_image(source, max_pixels=max_pixels, max_side=max_side)
        return encode_image(decoded, output_format=output_format, max_side=max_side)


def _too_large(max_pixels: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"The image has more than {max_pixels:,} pixels.", details={"max_pixels": max_pixels}
    )


def _plain_mode(image: Image.Image) -> Image.Image:
    """Brings palette, 16-bit, CMYK... down to L, LA, RGB or RGBA (the image itself when it
    already is one)."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    has_alpha = image.has_transparency_data
    return image.convert("RGBA" if has_alpha else "RGB")


def _to_srgb(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Bakes an embedded colour profile (Display P3 phone photos, CMYK) into sRGB pixels,
    since the profile itself is stripped with the rest of the metadata."""
    plain = image if image.mode in ("RGB", "RGBA", "CMYK") else _plain_mode(image)
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if plain.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(plain, source, _SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # A broken profile is not worth refusing a photo over: keep the pixels as they are.
        return _plain_mode(plain)
    return converted if converted is not None else _plain_mode(plain)


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite onto white rather than exposing hidden RGB values."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
