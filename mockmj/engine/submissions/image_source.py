"""Images that clients send by value or by link: data URLs, bare base64, and http(s) URLs.

Newer proxies accept an image as a data URL, as bare base64 (trueai adds `data:image/png;base64,`
itself) or as a link. A mock must never reach the network, so a link is read only when it points at
the mock itself (its own attachment URLs, read straight from the gallery) or at a loopback host
(127.0.0.0/8, ::1, localhost: a test's own fixture server). Any other host is refused with a reason
that says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests

from mockmj.media.image_input import MAX_DECODED_BYTES, DecodedImage, ImageInputError, decode_bytes, decode_data_url
from mockmj.model.hosts import is_loopback

if TYPE_CHECKING:
    from mockmj.engine.facade import Caller, Engine

LINK_TIMEOUT_S = 5.0


def is_link(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def with_data_prefix(value: object) -> object:
    """Bare base64 gets the `data:image/png;base64,` prefix trueai adds (the real format is read from the bytes)."""
    if isinstance(value, str) and value.strip() and not value.strip().lower().startswith("data:"):
        return "data:image/png;base64," + value.strip()
    return value


def decode_image_value(engine: Engine, caller: Caller, value: object, field: str) -> DecodedImage:
    """An image given as a data URL, bare base64 or a link; ImageInputError naming `field` if unusable."""
    if is_link(value):
        assert isinstance(value, str)
        return fetch_link(engine, caller, value.strip(), field)
    return decode_data_url(with_data_prefix(value), field)


def fetch_link(engine: Engine, caller: Caller, url: str, field: str) -> DecodedImage:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ImageInputError(field, f"{url!r} is not an http(s) URL with a host")
    own = {urlsplit(base).netloc for base in (caller.origin, engine.settings.public_url or "") if base}
    if parts.netloc in own:
        found = engine.gallery.attachment(parts.path)
        if found is None:
            raise ImageInputError(field, f"the mock serves no image at {parts.path}")
        data, mime = found
        if not mime.startswith("image/"):
            raise ImageInputError(field, f"{url} is {mime}, not an image")
        return decode_bytes(data, field)
    if not is_loopback(host):
        raise ImageInputError(
            field, f"{url}: mockmj never fetches from the network; it reads only its own URLs and loopback "
                   "hosts (127.0.0.1, ::1, localhost). Send the image as base64 instead")
    try:
        # no redirects: a loopback server must not be a way to send the mock to another host
        with requests.get(url, timeout=LINK_TIMEOUT_S, stream=True, allow_redirects=False) as answer:
            if answer.status_code != 200:
                raise ImageInputError(field, f"{url} answered HTTP {answer.status_code}")
            data = answer.raw.read(MAX_DECODED_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise ImageInputError(field, f"{url} could not be read ({type(exc).__name__})") from None
    if len(data) > MAX_DECODED_BYTES:
        raise ImageInputError(field, f"{url} is larger than the 4 MB limit")
    return decode_bytes(data, field)
