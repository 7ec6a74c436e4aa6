"""Validation of the images clients send as RFC 2397 data URLs (``base64Array``, ``maskBase64``, …).

The declared MIME type is only a claim: the real format is read from the decoded bytes, because
clients routinely send JPEGs labelled ``image/png``, and the upstream proxy forwards whatever it
gets. Every refusal is an :class:`ImageInputError` whose reason names the field and what was wrong,
so the web layer can put it straight into the dialect's parameter-error envelope.

Decoding runs within a memory budget, because a small file can hold a huge picture (a 170 KB PNG of
40 megapixels is 160 MB of pixels once decoded):

- the dimensions are read from the header and checked against MAX_PIXELS before any pixel is decoded;
- a JPEG is decoded reduced by its own DCT scaling (Pillow's `draft`), at 1/2 to 1/8 of its size, when
  a smaller picture serves (verification walks the whole compressed stream either way);
- PNG, GIF and WebP have no reduced decoding in Pillow, so they are decoded whole (at most MAX_PIXELS ×
  4 bytes) and are kept apart instead: at most DECODE_SLOTS images are decoded (and worked on) at once
  in the process, holding at most DECODE_PIXELS pixels together (so a largest image runs alone, or
  beside small ones); the others wait their turn;
- freed pixel memory goes back to the operating system. With glibc, each request thread has its own
  malloc arena, and once a big block was freed glibc serves blocks up to 32 MB from the arenas, which
  keep them: twelve threads each decoding 160 MB once would hold 2 GB for ever. So at the first big
  decode the mmap threshold is fixed at 1 MB (`mallopt`: Pillow's 16 MB blocks are then mapped and
  unmapped), and when the last of a round of big decodes ends, `malloc_trim` releases what the arenas
  still hold. Pillow's own block cache stays at its default of 0 blocks, so it keeps none either.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import io
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mockmj.media.pillow import Image

MAX_DECODED_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression-bomb guard
DECODE_SLOTS = 4  # images decoded at once, process-wide
DECODE_PIXELS = 48_000_000  # pixels those decodes hold together (4 to 11 bytes each while worked on)
CHECK_SIDE = 1024  # a JPEG is verified decoded down to about this long side (DCT scaling)
TRIM_PIXELS = 4_000_000  # after a decode this big, give freed memory back once no decode runs

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


def _bomb(width: int, height: int) -> str:
    side = int(MAX_PIXELS**0.5)
    return f"{_BOMB}: {width}x{height} is {width * height:,}; the limit is {MAX_PIXELS:,} (about {side}x{side})"


_UNDECODABLE = "is not a decodable image"
_ACCEPTED = "only PNG, JPEG, GIF and WEBP are accepted"

# warnings.catch_warnings mutates process-global state and is not thread-safe before Python 3.14;
# serialising our own use keeps two request threads from restoring each other's filters.
_WARNINGS_LOCK = threading.Lock()

_THRESHOLD = [0] * 128 + [255] * 128


_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
MMAP_THRESHOLD = 1024 * 1024


def _glibc(name: str) -> Any:
    """A function of glibc, or None where there is none (musl, macOS, Windows)."""
    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        return None


def _libc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), or nothing."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


def _big_blocks_mapped() -> None:
    """Blocks of 1 MB and more mapped from the OS and unmapped when freed (glibc; elsewhere nothing)."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


class DecodeBudget:
    """Decodes run at most `slots` at once, and the big ones (TRIM_PIXELS and more) together hold at
    most `pixels` pixels (one bigger than that runs alone): big images go one after another, small
    ones beside them, so a tenant sending the largest images never holds up everyone's small ones
    for long. A round that had a big decode ends with a trim (freed memory back to the OS)."""

    def __init__(self, slots: int, pixels: int, trim: Callable[[], None] | None = None,
                 on_first_big: Callable[[], None] | None = None) -> None:
        self.slots, self.pixels = slots, pixels
        self._cond = threading.Condition()
        # glibc's trim is looked up at the first trim: finding the C library can run `ldconfig`, a process
        # that importing this module (on every start of the mock) should not wait for
        self._trim = trim
        self._on_first_big = on_first_big
        self.active = 0
        self.in_use = 0  # pixels of the decodes running now
        self.peak = 0  # the most decodes seen at once: what the tests check
        self.peak_pixels = 0
        self.decodes = 0  # decodes that went through the budget
        self._big = False

    @contextmanager
    def slot(self, pixels: int) -> Iterator[None]:
        big = pixels >= TRIM_PIXELS
        pixels = pixels if big else 0
        with self._cond:
            while self.active and (self.active >= self.slots or self.in_use + pixels > self.pixels):
                self._cond.wait()
            self.active += 1
            self.decodes += 1
            self.in_use += pixels
            self.peak = max(self.peak, self.active)
            self.peak_pixels = max(self.peak_pixels, self.in_use)
            self._big = self._big or big
            first, self._on_first_big = (self._on_first_big, None) if big else (None, self._on_first_big)
        if first is not None:
            first()
        try:
            yield
        finally:
            with self._cond:
                self.active -= 1
                self.in_use -= pixels
                trim = self.active == 0 and self._big
                if trim:
                    self._big = False
                self._cond.notify_all()
            if trim:
                if self._trim is None:
                    self._trim = _libc_trim()
                self._trim()


BUDGET = DecodeBudget(DECODE_SLOTS, DECODE_PIXELS, on_first_big=_big_blocks_mapped)


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
    return _decode(value, field)[0]


@contextmanager
def decoded(data: bytes, max_side: int | None = None) -> Iterator[Image.Image]:
    """The pixels of an image that was already accepted, decoded in a budget slot (held while the
    caller works on them). `max_side`: a bigger JPEG is decoded reduced (at least that long side),
    other formats are box-reduced after decoding."""
    image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    with BUDGET.slot(image.width * image.height):
        if max_side is not None and max(image.size) > max_side:
            if image.format in ("JPEG", "MPO"):
                image.draft(image.mode, _at_least(image.size, max_side))
            image.load()
            step = max(image.size) // max_side
            if step >= 2:
                image = image.reduce(step)
        image.load()
        yield image


def _at_least(size: tuple[int, int], side: int) -> tuple[int, int]:
    """A size of the same shape as `size` whose long side is `side` (what `draft` may not go below)."""
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def decode_mask(value: object, field: str, size: tuple[int, int]) -> Image.Image:
    """A Vary (Region) mask: a PNG, black background, selection pure white.

    Returns a binary ``L`` image (0 or 255) of ``size``. Transparent pixels count as black, since
    editors export "nothing selected" as either.
    """
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"mask size must be positive, got {size!r}")

    def mask_of(image: Image.Image, fmt: str) -> Image.Image:  # runs in the decode's budget slot
        if fmt != "PNG":
            raise ImageInputError(field, f"mask must be a PNG image, not {fmt}")
        return _binary_mask(image, field, size)

    return _decode(value, field, then=mask_of)[1]


def _binary_mask(image: Image.Image, field: str, size: tuple[int, int]) -> Image.Image:
    width, height = size
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


def _decode(value: object, field: str,
            then: Callable[[Image.Image, str], Any] | None = None) -> tuple[DecodedImage, Any]:
    """The verified image, and what `then(pixels, format)` made of its pixels (in the same slot)."""
    return _verify(_payload_bytes(value, field), field, then)


def decode_bytes(data: bytes, field: str) -> DecodedImage:
    """Verify an image's bytes (read from a link): the checks of a data URL, without its base64."""
    return _verify(data, field, None)[0]


def _verify(data: bytes, field: str,
            then: Callable[[Image.Image, str], Any] | None) -> tuple[DecodedImage, Any]:
    if len(data) > MAX_DECODED_BYTES:
        raise ImageInputError(field, f"is {len(data)} bytes decoded; the limit is 4 MB")
    try:
        return _open_verified(data, field, then)
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(field, f"{_BOMB}: the limit is {MAX_PIXELS:,} pixels") from exc
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
    return data


def _open_verified(data: bytes, field: str,
                   then: Callable[[Image.Image, str], Any] | None) -> tuple[DecodedImage, Any]:
    # Image.open reads only the header; Pillow's own bomb check fires there, before any pixel is
    # decoded. Escalating its warning inside this block turns it into a refusal without touching
    # Image.MAX_IMAGE_PIXELS, which other code in the process may rely on.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageInputError(field, _bomb(width, height))
        # MPO is how Pillow names a JPEG carrying extra (stereo/preview) pictures: still a JPEG.
        fmt = "JPEG" if image.format == "MPO" else str(image.format)
        if fmt != "JPEG" and getattr(image, "n_frames", 1) > 1:
            raise ImageInputError(field, f"animated {fmt} is not supported")
    # Decoding the pixels is the slow part and raises no bomb warning, so it runs outside the lock
    # (in a budget slot); it is what catches truncated and corrupt data that has a plausible header.
    with BUDGET.slot(width * height):
        if fmt == "JPEG" and then is None and max(width, height) > CHECK_SIDE:
            image.draft(image.mode, _at_least((width, height), CHECK_SIDE))
        image.load()
        if fmt != "JPEG":
            width, height = image.size
        if width * height > MAX_PIXELS:  # a GIF frame may extend the canvas past its header
            raise ImageInputError(field, _bomb(width, height))
        result = then(image, fmt) if then is not None else None
    mime, _ = _FORMATS[fmt]
    return DecodedImage(data=data, mime=mime, format=fmt, width=width, height=height), result


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
    "BUDGET",
    "MAX_DECODED_BYTES",
    "MAX_PIXELS",
    "DecodeBudget",
    "DecodedImage",
    "ImageInputError",
    "decode_bytes",
    "decode_data_url",
    "decode_mask",
    "decoded",
]
