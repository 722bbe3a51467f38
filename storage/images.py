"""Image inspection and normalisation, shared by storage uploads and AI photo recognition.

Everything a client sends is treated as hostile: the type comes from the bytes (Pillow's
own parsers, limited to the formats we accept), the pixel count is capped before anything
is decoded, Pillow's decompression-bomb warning is an error, and what leaves here is always
a fresh encode of the pixels alone, so EXIF (GPS included), XMP, ICC and text chunks never
survive.
"""

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from fitness.api.errors import ApiError
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


def decode_image(source: BinaryIO, *, max_pixels: int) -> DecodedImage:
    """Identifies the image from its bytes and decodes its first frame.

    Raises UnsupportedImageType (415) for anything that is not an accepted image format,
    ImageTooLarge (400) past `max_pixels` or on Pillow's bomb check, InvalidImage (400)
    for an accepted format whose bytes do not decode.
    """
    source.seek(0)
    with warnings.catch_warnings():
        # catch_warnings is process-wide and not thread-safe; the explicit `max_pixels`
        # check below (40 MP, under Pillow's bomb threshold) is the guard that always holds.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
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
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
            icc_profile = upright.info.get("icc_profile")
            clean = _to_srgb(upright, icc_profile) if icc_profile else _plain_mode(upright)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(max_pixels) from exc
        except Exception as exc:
            raise InvalidImage() from exc
    clean.info = {}
    return DecodedImage(image=clean, source_format=source_format)


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
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
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
    """decode_image + encode_image: the whole check-and-clean in one call."""
    decoded = decode_image(source, max_pixels=max_pixels)
    return encode_image(decoded, output_format=output_format, max_side=max_side)


def _too_large(max_pixels: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"The image has more than {max_pixels:,} pixels.", details={"max_pixels": max_pixels}
    )


def _plain_mode(image: Image.Image) -> Image.Image:
    """Brings palette, 16-bit, CMYK... down to L, LA, RGB or RGBA; always a new image."""
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image.copy()
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
