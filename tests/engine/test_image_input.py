"""Data-URL image validation: every refusal rule once, the accepted formats, and a fuzz property."""

from __future__ import annotations

import base64
import io
import random
import struct
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mockmj.media.image_input import (
    MAX_DECODED_BYTES,
    DecodedImage,
    ImageInputError,
    decode_data_url,
    decode_mask,
)
from tests.helpers import data_url, image_bytes


def noisy_png(size: tuple[int, int] = (64, 64)) -> bytes:
    # Noise does not compress, so the pixel data is long enough to cut in half.
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height``: enough for Image.open, never for load()."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def refusal(value: object, field: str = "base64") -> ImageInputError:
    with pytest.raises(ImageInputError) as caught:
        decode_data_url(value, field)
    return caught.value


# --- the error type ------------------------------------------------------------------------------


def test_error_carries_field_and_reason_and_reads_as_both() -> None:
    error = ImageInputError("base64Array[1]", "must not be empty")
    assert (error.field, error.reason) == ("base64Array[1]", "must not be empty")
    assert str(error) == "base64Array[1]: must not be empty"
    assert isinstance(error, ValueError)


# --- each rule, violated once --------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   \n "])
def test_empty_value_is_refused(value: object) -> None:
    error = refusal(value, "maskBase64")
    assert error.field == "maskBase64"
    assert error.reason == "must not be empty"


@pytest.mark.parametrize("value", [123, b"data:image/png;base64,AAAA", ["data:image/png;base64,AAAA"]])
def test_non_string_is_refused_naming_the_type(value: object) -> None:
    assert type(value).__name__ in refusal(value).reason


@pytest.mark.parametrize(
    "value",
    [
        "hello",
        base64.b64encode(image_bytes("PNG")).decode(),  # raw base64, the classic client mistake
        "data:text/plain;base64,aGVsbG8=",
        "data:image/png," + base64.b64encode(image_bytes("PNG")).decode(),  # not base64-flagged
        "data:;base64,AAAA",
        "https://example.com/cat.png",
    ],
)
def test_anything_but_an_image_data_url_is_refused(value: str) -> None:
    assert refusal(value).reason == "must be a data URL like data:image/png;base64,…"


@pytest.mark.parametrize("payload", ["@@@@", "AAA", "AAAA=AAA", "ÄÖÜ="])
def test_invalid_base64_is_refused(payload: str) -> None:
    assert "not valid base64" in refusal(f"data:image/png;base64,{payload}").reason


def test_empty_payload_is_refused() -> None:
    assert "empty base64 payload" in refusal("data:image/png;base64,").reason


def test_whitespace_and_newlines_in_the_payload_are_tolerated() -> None:
    encoded = base64.b64encode(image_bytes("PNG")).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    decoded = decode_data_url(f"  data:image/png;base64,\n{wrapped}\r\n ", "base64")
    assert (decoded.width, decoded.height) == (40, 30)


def test_media_type_parameters_and_case_are_accepted() -> None:
    payload = base64.b64encode(image_bytes("PNG")).decode()
    assert decode_data_url(f"DATA:IMAGE/PNG;name=cat.png;BASE64,{payload}", "base64").format == "PNG"


def test_more_than_four_megabytes_decoded_is_refused() -> None:
    too_big = b"\x00" * (MAX_DECODED_BYTES + 1)
    error = refusal(data_url(too_big))
    assert error.reason == f"is {MAX_DECODED_BYTES + 1} bytes decoded; the limit is 4 MB"


def test_exactly_four_megabytes_passes_the_size_rule() -> None:
    # Zero bytes are no image, so the refusal must come from the next rule, not the size rule.
    assert refusal(data_url(b"\x00" * MAX_DECODED_BYTES)).reason == "is not a decodable image"


@pytest.mark.parametrize(
    "data",
    [b"just some text, not a picture", noisy_png()[: len(noisy_png()) // 2], image_bytes("JPEG")[:-200]],
    ids=["text", "truncated-png", "truncated-jpeg"],
)
def test_undecodable_or_truncated_bytes_are_refused(data: bytes) -> None:
    assert refusal(data_url(data)).reason == "is not a decodable image"


@pytest.mark.parametrize(("fmt", "name"), [("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_real_image_formats_are_refused_by_name(fmt: str, name: str) -> None:
    reason = refusal(data_url(image_bytes(fmt), "image/png")).reason
    assert reason == f"looks like a {name} image; only PNG, JPEG, GIF and WEBP are accepted"


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_images_are_refused(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert refusal(data_url(buffer.getvalue(), f"image/{fmt.lower()}")).reason == f"animated {fmt} is not supported"


BOMB = "image is too large in pixels (decompression bomb?)"


@pytest.mark.parametrize(
    ("width", "height", "cause"),
    [
        (7_000, 7_000, None),  # over MAX_PIXELS, under Pillow's own threshold: our check
        (10_000, 10_000, Image.DecompressionBombWarning),  # over Image.MAX_IMAGE_PIXELS
        (20_000, 20_000, Image.DecompressionBombError),  # over twice that
    ],
)
def test_decompression_bombs_are_refused_from_the_header(width: int, height: int, cause: type | None) -> None:
    error = refusal(data_url(png_header(width, height)))
    assert error.reason.startswith(BOMB) and "the limit is 40,000,000" in error.reason
    assert (type(error.__cause__) if cause else error.__cause__) is cause


def test_pillow_bomb_warning_becomes_a_refusal_even_for_a_lowered_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 12×12 = 144 pixels: over a limit of 100 (a warning), under twice it (not yet an error).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert refusal(data_url(image_bytes("PNG", (12, 12)))).reason.startswith(BOMB)


def test_bomb_guard_leaves_global_state_alone() -> None:
    limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    refusal(data_url(png_header(10_000, 10_000)))
    decode_data_url(data_url(image_bytes("PNG")), "base64")
    assert limit == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters


# --- what is accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("GIF", "image/gif", "gif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_supported_formats_decode_with_their_real_dimensions(fmt: str, mime: str, ext: str) -> None:
    data = image_bytes(fmt, (57, 31))
    decoded = decode_data_url(data_url(data, mime), "base64")
    assert decoded == DecodedImage(data=data, mime=mime, format=fmt, width=57, height=31)
    assert decoded.ext == ext


def test_the_real_format_wins_over_the_declared_mime_type() -> None:
    decoded = decode_data_url(data_url(image_bytes("JPEG"), "image/png"), "base64")
    assert (decoded.format, decoded.mime, decoded.ext) == ("JPEG", "image/jpeg", "jpg")


def test_a_single_frame_gif_is_accepted() -> None:
    assert decode_data_url(data_url(image_bytes("GIF", (5, 9)), "image/gif"), "f").format == "GIF"


# --- masks ---------------------------------------------------------------------------------------


def mask_url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return data_url(buffer.getvalue())


def test_mask_is_resized_binary_and_white_where_selected() -> None:
    mask = Image.new("L", (100, 100), 0)
    mask.paste(255, (50, 0, 100, 50))  # top-right quarter selected
    result = decode_mask(mask_url(mask), "maskBase64", (200, 120))
    assert (result.mode, result.size) == ("L", (200, 120))
    assert {value for value, count in enumerate(result.histogram()) if count} == {0, 255}
    assert result.getpixel((150, 20)) == 255
    assert result.getpixel((20, 100)) == 0


def test_mask_transparency_counts_as_not_selected() -> None:
    mask = Image.new("RGBA", (64, 64), (255, 255, 255, 0))  # transparent white: still unselected
    mask.paste((255, 255, 255, 255), (0, 0, 32, 32))
    result = decode_mask(mask_url(mask), "maskBase64", (64, 64))
    assert result.getpixel((10, 10)) == 255
    assert result.getpixel((50, 50)) == 0


def test_mask_must_be_png() -> None:
    with pytest.raises(ImageInputError) as caught:
        decode_mask(mask_url(Image.new("RGB", (32, 32), "white"), "JPEG"), "maskBase64", (32, 32))
    assert caught.value.reason == "mask must be a PNG image, not JPEG"


def test_mask_without_white_is_refused() -> None:
    with pytest.raises(ImageInputError) as caught:
        decode_mask(mask_url(Image.new("L", (32, 32), 100)), "maskBase64", (32, 32))
    assert caught.value.reason == "mask has no white (selected) region"


def test_mask_selection_too_small_for_the_target_size_is_refused() -> None:
    mask = Image.new("L", (400, 400), 0)
    mask.putpixel((200, 200), 255)
    with pytest.raises(ImageInputError) as caught:
        decode_mask(mask_url(mask), "maskBase64", (10, 10))
    assert "too small" in caught.value.reason


def test_mask_refuses_what_any_image_input_refuses() -> None:
    with pytest.raises(ImageInputError) as caught:
        decode_mask("", "maskBase64", (10, 10))
    assert caught.value.reason == "must not be empty"


# --- properties ----------------------------------------------------------------------------------

VALID_SAMPLES = [image_bytes(fmt, (24, 16)) for fmt in ("PNG", "JPEG", "GIF", "WEBP")]


def decodes_or_refuses(value: object) -> None:
    try:
        result = decode_data_url(value, "base64")
    except ImageInputError as error:
        assert error.field == "base64" and error.reason
    else:
        assert result.width * result.height >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_raise_anything_but_image_input_error(data: bytes) -> None:
    decodes_or_refuses(data_url(data))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises_anything_but_image_input_error(text: str) -> None:
    decodes_or_refuses(text)
    decodes_or_refuses("data:image/png;base64," + text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(VALID_SAMPLES),
    st.lists(st.tuples(st.integers(min_value=0, max_value=4096), st.integers(0, 255)), max_size=8),
    st.integers(min_value=1, max_value=4096),
)
def test_damaged_real_images_never_raise_anything_but_image_input_error(
    sample: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    # Mutating real files reaches deep into the decoders, where random bytes rarely get.
    data = bytearray(sample[: max(cut, 8)])
    for position, value in flips:
        data[position % len(data)] = value
    decodes_or_refuses(data_url(bytes(data)))
