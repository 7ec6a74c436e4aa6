"""Keys never reach the recording: secrets are replaced in headers, URLs, bodies and media names."""

from __future__ import annotations

import re
import threading

REDACTED = "REDACTED"
# Headers whose whole value is a credential, whatever it is (a key the recorder never saw included).
SECRET_HEADERS = re.compile(r"authorization|mj-api-secret|api-?key|secret|token|cookie", re.I)
# A secret shorter than this is too likely to occur by chance in ordinary text ("demo" in a prompt);
# it is removed from the credential headers only.
MIN_TEXT_SECRET = 3


class Redactor:
    """Knows every key seen so far (the target key and each one clients sent) and removes them."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets or []:
            self.learn(secret)

    def learn(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_TEXT_SECRET or secret == REDACTED:
            return
        with self._lock:
            if secret in self._secrets:
                return
            self._secrets.add(secret)
            # longest first, so a key that contains another is replaced whole
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def text(self, value: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, value) if pattern else value

    def data(self, body: bytes) -> bytes:
        """A body of any type: as UTF-8 text when it is, else byte for byte (a key inside binary data too)."""
        if not body or self._pattern is None:
            return body
        try:
            return self.text(body.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            with self._lock:
                secrets = sorted(self._secrets, key=len, reverse=True)
            for secret in secrets:
                body = body.replace(secret.encode("utf-8"), REDACTED.encode("ascii"))
            return body

    def header(self, name: str, value: str) -> str:
        if SECRET_HEADERS.search(name):
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            return f"{scheme} {REDACTED}" if scheme.lower() in ("bearer", "basic", "token") else REDACTED
        return self.text(value)

    def headers(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, self.header(name, value)) for name, value in pairs]
