"""Keys never reach the recording: the Redactor on headers, text and binary bodies."""

from __future__ import annotations

from mockmj.record.redact import REDACTED, Redactor


def test_known_keys_are_replaced_everywhere() -> None:
    r = Redactor(["sk-live-1234"])
    r.learn("dummy-abc")
    assert r.text("https://relay/x?key=sk-live-1234&b=dummy-abc") == f"https://relay/x?key={REDACTED}&b={REDACTED}"
    assert r.data(b'{"echo":"sk-live-1234"}') == b'{"echo":"REDACTED"}'
    binary = b"\x89PNG\xff\xfe" + b"sk-live-1234" + b"\x00"
    assert r.data(binary) == b"\x89PNG\xff\xfe" + b"REDACTED" + b"\x00"
    assert r.text("nothing secret here") == "nothing secret here"


def test_a_key_that_contains_another_is_replaced_whole() -> None:
    r = Redactor(["abcd", "abcd-efgh"])
    assert r.text("x abcd-efgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_credential_headers_are_redacted_whatever_their_value() -> None:
    r = Redactor()
    assert r.header("Authorization", "Bearer never-seen-before") == f"Bearer {REDACTED}"
    assert r.header("mj-api-secret", "xy") == REDACTED  # too short to hunt in text, still gone from the header
    assert r.header("X-MockMJ-Control-Token", "t0k3n") == REDACTED
    assert r.header("Cookie", "session=1") == REDACTED
    assert r.header("Content-Type", "application/json") == "application/json"
    r.learn("xy")
    assert r.text("xylophone") == "xylophone"  # a 2-character key is not searched in text
