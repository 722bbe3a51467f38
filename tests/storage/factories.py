"""Test images made on the fly with Pillow (and pillow-heif): no binary fixtures."""

import io
import struct
import zlib

import pillow_heif
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, PngImagePlugin

from storage import services

ORIENTATION = 0x0112
MAKE = 0x010F
GPS_IFD = 0x8825
CAMERA = "SecretCam 3000"
# Red on the left half, blue on the right: after an orientation-6 rotation (90° clockwise)
# red is on top.
LEFT, RIGHT = (255, 0, 0), (0, 0, 255)


def halves(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size, LEFT if mode == "RGB" else (*LEFT, 255))
    right = Image.new(
        mode, (size[0] - size[0] // 2, size[1]), RIGHT if mode == "RGB" else (*RIGHT, 255)
    )
    image.paste(right, (size[0] // 2, 0))
    return image


def tagged_exif(*, orientation: int | None = None) -> Image.Exif:
    """EXIF with a camera make, GPS coordinates and optionally an orientation."""
    exif = Image.Exif()
    exif[MAKE] = CAMERA
    if orientation:
        exif[ORIENTATION] = orientation
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48), **options) -> bytes:
    return encode(halves(size), "JPEG", quality=95, **options)


def png_bytes(size: tuple[int, int] = (64, 48), **options) -> bytes:
    return encode(halves(size, "RGBA"), "PNG", **options)


def webp_bytes(size: tuple[int, int] = (64, 48), **options) -> bytes:
    return encode(halves(size), "WEBP", quality=95, **options)


def heic_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(halves(size)).save(buffer, quality=90)
    return buffer.getvalue()


def jpeg_with_private_metadata() -> bytes:
    """A landscape JPEG saying 'rotate 90° clockwise', with GPS, a camera make, a comment,
    an ICC profile and XMP: everything that must not survive storage."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SecretXmpLocation</x:xmpmeta>'
    return encode(
        halves((60, 40)),
        "JPEG",
        quality=95,
        exif=tagged_exif(orientation=6).tobytes(),
        comment=b"SecretComment",
        icc_profile=srgb,
        xmp=xmp,
    )


def png_with_private_metadata() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SecretComment")
    return encode(halves((60, 40), "RGBA"), "PNG", pnginfo=text, exif=tagged_exif().tobytes())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` by `height` pixels: a decompression bomb as
    far as any decoder that trusts the header is concerned."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


WINDOWS_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + (b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 200)
)
ELF_BINARY = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 300
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
GIF = encode(Image.new("P", (8, 8)), "GIF")
TRUNCATED_JPEG = jpeg_bytes((256, 256))[:300]

TYPES = {
    "jpeg": (jpeg_bytes, "image/jpeg"),
    "png": (png_bytes, "image/png"),
    "webp": (webp_bytes, "image/webp"),
    # Stored as JPEG, which every client displays.
    "heic": (heic_bytes, "image/jpeg"),
}


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_file(owner, data: bytes | None = None, **options):
    """A file stored through the real upload service."""
    return services.upload_file(owner=owner, upload=upload(data or jpeg_bytes()), **options)
