import io

import pytest
from PIL import Image

from storage import images
from tests.storage import factories as f

CAP = 40_000_000


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (f.jpeg_bytes, "JPEG"),
        (f.png_bytes, "PNG"),
        (f.webp_bytes, "WEBP"),
        (f.heic_bytes, "HEIF"),
    ],
)
def test_decode_image_identifies_type_from_bytes(make, expected):
    decoded = images.decode_image(io.BytesIO(make()), max_pixels=CAP)

    assert decoded.source_format == expected
    assert decoded.image.size == (64, 48)


def test_decode_image_treats_multi_picture_jpeg_as_jpeg():
    first, second = f.halves((64, 48)), Image.new("RGB", (32, 24), "green")
    mpo = f.encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"

    encoded = images.normalise_image(io.BytesIO(mpo), max_pixels=CAP)

    assert (encoded.format, encoded.width, encoded.height) == ("JPEG", 64, 48)
    assert b"MPF" not in encoded.data


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_decode_image_keeps_pixels_when_exif_is_damaged():
    damaged = f.jpeg_bytes(exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")

    encoded = images.normalise_image(io.BytesIO(damaged), max_pixels=CAP)

    assert (encoded.width, encoded.height) == (64, 48)


@pytest.mark.parametrize(
    "data",
    [f.WINDOWS_EXE, f.ELF_BINARY, f.SVG, f.GIF, b"", b"just some text"],
    ids=["exe", "elf", "svg", "gif", "empty", "text"],
)
def test_decode_image_raises_unsupported_when_not_an_accepted_image(data):
    with pytest.raises(images.UnsupportedImageType) as caught:
        images.decode_image(io.BytesIO(data), max_pixels=CAP)

    assert caught.value.status_code == 415


def test_decode_image_raises_invalid_when_bytes_do_not_decode():
    with pytest.raises(images.InvalidImage) as caught:
        images.decode_image(io.BytesIO(f.TRUNCATED_JPEG), max_pixels=CAP)

    assert type(caught.value) is images.InvalidImage
    assert caught.value.status_code == 400


def test_decode_image_raises_too_large_when_over_pixel_cap():
    with pytest.raises(images.ImageTooLarge) as caught:
        images.decode_image(io.BytesIO(f.jpeg_bytes((100, 100))), max_pixels=9_999)

    assert caught.value.details == {"max_pixels": 9_999}


@pytest.mark.parametrize(
    "side",
    # 100 Mpx sets off Pillow's bomb warning, 400 Mpx its bomb error.
    [10_000, 20_000],
    ids=["bomb-warning", "bomb-error"],
)
def test_decode_image_raises_too_large_when_pillow_sees_a_bomb(side):
    # A cap above the declared size, so only Pillow's own check can refuse it.
    with pytest.raises(images.ImageTooLarge):
        images.decode_image(io.BytesIO(f.png_declaring(side, side)), max_pixels=10**12)


def test_decode_image_raises_too_large_when_header_declares_huge_size():
    with pytest.raises(images.ImageTooLarge):
        images.decode_image(io.BytesIO(f.png_declaring(8_000, 6_000)), max_pixels=CAP)


def test_encode_image_strips_all_metadata():
    source = f.jpeg_with_private_metadata()
    assert b"SecretCam" in source and b"SecretComment" in source  # the fixture carries them

    encoded = images.normalise_image(io.BytesIO(source), max_pixels=CAP)

    for marker in (b"SecretCam", b"SecretComment", b"SecretXmp", b"Exif", b"ICC_PROFILE"):
        assert marker not in encoded.data
    stored = Image.open(io.BytesIO(encoded.data))
    assert len(stored.getexif()) == 0
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(stored.info)


def test_encode_image_strips_png_text_and_exif():
    encoded = images.normalise_image(io.BytesIO(f.png_with_private_metadata()), max_pixels=CAP)

    assert encoded.format == "PNG"
    assert b"SecretComment" not in encoded.data
    assert b"SecretCam" not in encoded.data
    assert b"eXIf" not in encoded.data


def test_encode_image_applies_exif_orientation():
    encoded = images.normalise_image(io.BytesIO(f.jpeg_with_private_metadata()), max_pixels=CAP)

    upright = Image.open(io.BytesIO(encoded.data)).convert("RGB")
    assert (encoded.width, encoded.height) == upright.size == (40, 60)
    top, bottom = upright.getpixel((20, 5)), upright.getpixel((20, 55))
    assert top[0] > 200 and top[2] < 60  # red went to the top
    assert bottom[2] > 200 and bottom[0] < 60


def test_normalise_image_downscales_to_jpeg_when_asked():
    source = f.png_bytes((2000, 1000))

    encoded = images.normalise_image(
        io.BytesIO(source), max_pixels=CAP, max_side=1024, output_format="JPEG"
    )

    assert (encoded.format, encoded.content_type, encoded.extension) == (
        "JPEG",
        "image/jpeg",
        "jpg",
    )
    assert Image.open(io.BytesIO(encoded.data)).size == (1024, 512)


def test_normalise_image_never_upscales():
    encoded = images.normalise_image(
        io.BytesIO(f.jpeg_bytes((64, 48))), max_pixels=CAP, max_side=1024
    )

    assert (encoded.width, encoded.height) == (64, 48)


def test_encode_image_flattens_transparency_onto_white_for_jpeg():
    transparent = f.encode(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), "PNG")

    encoded = images.normalise_image(io.BytesIO(transparent), max_pixels=CAP, output_format="JPEG")

    assert Image.open(io.BytesIO(encoded.data)).getpixel((5, 5)) >= (250, 250, 250)


def test_encode_image_keeps_heic_as_jpeg():
    encoded = images.normalise_image(io.BytesIO(f.heic_bytes()), max_pixels=CAP)

    assert encoded.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(encoded.data)).format == "JPEG"
