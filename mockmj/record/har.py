"""The recording on disk: `DIR/recording.har` (HAR 1.2, one entry per exchange) and `DIR/media/`.

Fields of our own follow HAR's rule for custom fields (a leading underscore): `log._mockmj` holds the
dialect, the media index (original URL → file under media/) and the violations; `entry._violations`
names the rules an exchange broke. Browser devtools ignore them and open the file as any HAR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HAR_NAME = "recording.har"
MEDIA_DIR = "media"
TEXT_TYPES = ("json", "text", "xml", "javascript", "yaml", "html")


def is_text(mime: str) -> bool:
    return any(t in mime.lower() for t in TEXT_TYPES)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _content(body: bytes, mime: str) -> dict[str, Any]:
    if not body:
        return {"size": 0, "mimeType": mime, "text": ""}
    if is_text(mime):
        try:
            return {"size": len(body), "mimeType": mime, "text": body.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"size": len(body), "mimeType": mime, "text": base64.b64encode(body).decode("ascii"),
            "encoding": "base64"}


def content_bytes(content: dict[str, Any]) -> bytes:
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")


@dataclass
class Exchange:
    """One request and its answer, already redacted."""

    started: datetime
    elapsed_ms: float
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes
    violations: list[dict[str, Any]] = field(default_factory=list)

    def header(self, name: str, which: str = "response") -> str:
        pairs = self.response_headers if which == "response" else self.request_headers
        return next((v for k, v in pairs if k.lower() == name.lower()), "")

    def to_har(self) -> dict[str, Any]:
        req_mime = self.header("Content-Type", "request") or "application/octet-stream"
        resp_mime = self.header("Content-Type") or "application/octet-stream"
        request: dict[str, Any] = {
            "method": self.method, "url": self.url, "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in self.request_headers],
            "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(self.url).query)],
            "headersSize": -1, "bodySize": len(self.request_body),
        }
        if self.request_body:
            posted = _content(self.request_body, req_mime)
            request["postData"] = {"mimeType": req_mime, "text": posted["text"]}
            if "encoding" in posted:
                request["postData"]["_encoding"] = "base64"
        entry = {
            "startedDateTime": iso(self.started),
            "time": round(self.elapsed_ms, 3),
            "request": request,
            "response": {
                "status": self.status, "statusText": self.reason, "httpVersion": "HTTP/1.1", "cookies": [],
                "headers": [{"name": k, "value": v} for k, v in self.response_headers],
                "content": _content(self.response_body, resp_mime),
                "redirectURL": self.header("Location"), "headersSize": -1, "bodySize": len(self.response_body),
            },
            "cache": {},
            "timings": {"send": 0, "wait": round(self.elapsed_ms, 3), "receive": 0},
        }
        if self.violations:
            entry["_violations"] = self.violations
        return entry


class RecordingWriter:
    """Appends exchanges and media to the HAR file as they happen.

    Only the file's tail is rewritten per exchange (the new entry and `log._mockmj`), so recording
    costs the same at the ten-thousandth exchange as at the first, and the file is valid JSON after
    every write. `close()` waits for a write under way, so a stopped recorder never leaves half an entry.
    """

    def __init__(self, directory: str | Path, meta: dict[str, Any]) -> None:
        self.directory = Path(directory)
        (self.directory / MEDIA_DIR).mkdir(parents=True, exist_ok=True)
        self.meta = {**meta, "media": {}, "violationCount": 0}
        self.entries = 0
        self._lock = threading.Lock()
        self._file = open(self.directory / HAR_NAME, "w+b")  # noqa: SIM115 (open for the recorder's life)
        head = {"version": "1.2", "creator": {"name": "mockmj", "version": _version()}, "pages": []}
        self._file.write(('{"log":' + json.dumps(head, ensure_ascii=False)[:-1] + ',"entries":[').encode("utf-8"))
        self._entries_end = self._file.tell()
        self._write_tail()

    def add(self, exchange: Exchange) -> None:
        text = json.dumps(exchange.to_har(), ensure_ascii=False, indent=1)
        with self._lock:
            if self._file.closed:
                return
            self._file.seek(self._entries_end)
            self._file.write(((",\n" if self.entries else "\n") + text).encode("utf-8"))
            self._entries_end = self._file.tell()
            self.entries += 1
            self.meta["violationCount"] += len(exchange.violations)
            self._write_tail()

    def has_media(self, url: str) -> bool:
        with self._lock:
            return url in self.meta["media"]

    def add_media(self, url: str, body: bytes, mime: str) -> str:
        """Store one media file; its name derives from the (redacted) URL, its extension from the type."""
        extension = mimetypes.guess_extension(mime.split(";")[0].strip()) or Path(urlsplit(url).path).suffix
        name = hashlib.sha256(url.encode("utf-8")).hexdigest()[:20] + (extension or ".bin")
        (self.directory / MEDIA_DIR / name).write_bytes(body)
        with self._lock:
            self.meta["media"][url] = {"file": f"{MEDIA_DIR}/{name}", "mimeType": mime, "size": len(body)}
            if not self._file.closed:
                self._file.seek(self._entries_end)
                self._write_tail()
        return name

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def _write_tail(self) -> None:
        tail = "\n]," + json.dumps({"_mockmj": self.meta}, ensure_ascii=False, indent=1)[1:] + "}\n"
        self._file.write(tail.encode("utf-8"))
        self._file.truncate()
        self._file.flush()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mockmj")
    except PackageNotFoundError:
        return "0"


def load_har(directory: str | Path) -> dict[str, Any]:
    """The `log` object of DIR/recording.har, with a clear error when it is missing or not a HAR."""
    path = Path(directory) / HAR_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no recording at {path} (record one with `mockmj record --out {directory}`)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable HAR file: {exc}") from None
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise ValueError(f"{path} is not a HAR file: no log.entries")
    return log
