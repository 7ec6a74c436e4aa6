"""Validation of the images clients send as RFC 2397 data URLs (``base64Array``, ``maskBase64``, …).

The declared MIME type is only a claim: the real format is read from the decoded bytes, because
clients routinely send JPEGs labelled ``image/png``, and the upstream proxy forwards whatever it
gets. Every refusal is an :class:`ImageInputError` whose reason names the field and what was wrong,
so the web layer can put it straight into the dialect's parameter-error envelope.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import warnings
from dataclasses import dataclass

from PIL import Image

MAX_DECODED_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression-bomb guard

# Pillow format name → (MIME type, file extension as upstream derives it from mime.types).
_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
_EXT_BY_MIME = {mime: ext for mime, ext in _FORMATS.values()}

# Restricting Image.open to these plugins keeps hostile bytes away from Pillow's rarer decoders.
_PILLOW_FORMATS = tuple(_FORMATS)

_DATA_URL = re.compile(
    r"data:(?P<mime>image/[a-z0-9.+-]+)(?:;[a-z0-9_.+-]+=[^;,]*)*;base64,(?P<payload>.*)",
    re.IGNORECASE | re.DOTALL,
)
_WHITESPACE = re.compile(r"\s+")

_BOMB = "image is too large in pixels (decompression bomb?)"
_UNDECODABLE = "is not a decodable image"
_ACCEPTED = "only PNG, JPEG, GIF and WEBP are accepted"

# warnings.catch_warnings mutates process-global state and is not thread-safe before Python 3.14;
# serialising our own use keeps two request threads from restoring each other's filters.
_WARNINGS_LOCK = threading.Lock()

_THRESHOLD = [0] * 128 + [255] * 128


class ImageInputError(ValueError):
    """A client-supplied image was refused; ``field`` names the request field, ``reason`` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    mime: str
    format: str
    width: int
    height: int

    @property
    def ext(self) -> str:
        return _EXT_BY_MIME[self.mime]


def decode_data_url(value: object, field: str) -> DecodedImage:
    """Decode and verify one data URL; raise :class:`ImageInputError` naming ``field`` if unusable."""
    decoded, _ = _decode(value, field)
    return decoded


def decode_mask(value: object, field: str, size: tuple[int, int]) -> Image.Image:
    """A Vary (Region) mask: a PNG, black background, selection pure white.

    Returns a binary ``L`` image (0 or 255) of ``size``. Transparent pixels count as black, since
    editors export "nothing selected" as either.
    """
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"mask size must be positive, got {size!r}")
    decoded, image = _decode(value, field)
    if decoded.format != "PNG":
        raise ImageInputError(field, f"mask must be a PNG image, not {decoded.format}")
    rgba = image.convert("RGBA")
    gray = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")
    selected = gray.point(_THRESHOLD)
    if selected.getbbox() is None:
        raise ImageInputError(field, "mask has no white (selected) region")
    # BOX averages every source pixel into the result, so a selection survives downscaling
    # unless it covers less than half of every destination pixel it touches.
    resized = selected.resize((width, height), Image.Resampling.BOX).point(_THRESHOLD)
    if resized.getbbox() is None:
        raise ImageInputError(
            field, f"mask's white (selected) region is too small to survive scaling to {width}x{height}"
        )
    return resized


def _decode(value: object, field: str) -> tuple[DecodedImage, Image.Image]:
    data = _payload_bytes(value, field)
    try:
        return _open_verified(data, field)
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(field, _BOMB) from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageInputError(field, _unidentified_reason(data)) from exc
    except Exception as exc:
        # Pillow's plugins answer hostile bytes with a zoo of exception types (OSError, SyntaxError,
        # struct.error, EOFError, ValueError, …); to a client they all mean the same thing.
        raise ImageInputError(field, _UNDECODABLE) from exc


def _payload_bytes(value: object, field: str) -> bytes:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ImageInputError(field, "must not be empty")
    if not isinstance(value, str):
        raise ImageInputError(
            field,
            f"must be a string holding a data URL like data:image/png;base64,…, not {type(value).__name__}",
        )
    match = _DATA_URL.fullmatch(value.strip())
    if match is None:
        raise ImageInputError(field, "must be a data URL like data:image/png;base64,…")
    # Clients wrap long base64 at 76 columns (MIME style); that is a formatting habit, not an error.
    payload = _WHITESPACE.sub("", match["payload"])
    if not payload:
        raise ImageInputError(field, "has an empty base64 payload after 'base64,'")
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII characters in the payload
        raise ImageInputError(field, f"payload is not valid base64 ({exc})") from exc
    if len(data) > MAX_DECODED_BYTES:
        raise ImageInputError(field, f"is {len(data)} bytes decoded; the limit is 4 MB")
    return data


def _open_verified(data: bytes, field: str) -> tuple[DecodedImage, Image.Image]:
    # Image.open reads only the header; Pillow's own bomb check fires there, before any pixel is
    # decoded. Escalating its warning inside this block turns it into a refusal without touching
    # Image.MAX_IMAGE_PIXELS, which other code in the process may rely on.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageInputError(field, _BOMB)
        # MPO is how Pillow names a JPEG carrying extra (stereo/preview) pictures: still a JPEG.
        fmt = "JPEG" if image.format == "MPO" else str(image.format)
        if fmt != "JPEG" and getattr(image, "n_frames", 1) > 1:
            raise ImageInputError(field, f"animated {fmt} is not supported")
    # Decoding the pixels is the slow part and raises no bomb warning, so it runs outside the lock;
    # it is what catches truncated and corrupt data that has a plausible header.
    image.load()
    width, height = image.size
    if width * height > MAX_PIXELS:  # a GIF frame may extend the canvas past its header
        raise ImageInputError(field, _BOMB)
    mime, _ = _FORMATS[fmt]
    return DecodedImage(data=data, mime=mime, format=fmt, width=width, height=height), image


# Formats Pillow could read but the API does not accept: naming them beats "not decodable".
_UNSUPPORTED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"qoif", "QOI"),
)
_ISOBMFF_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF"}


def _unidentified_reason(data: bytes) -> str:
    name = next((fmt for magic, fmt in _UNSUPPORTED_SIGNATURES if data.startswith(magic)), None)
    if name is None and data[4:8] == b"ftyp":
        name = _ISOBMFF_BRANDS.get(data[8:12])
    if name is None and data.lstrip()[:5].lower() in (b"<svg ", b"<?xml"):
        name = "SVG"
    if name is None:
        return _UNDECODABLE
    return f"looks like a {name} image; {_ACCEPTED}"


__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_PIXELS",
    "DecodedImage",
    "ImageInputError",
    "decode_data_url",
    "decode_mask",
]
