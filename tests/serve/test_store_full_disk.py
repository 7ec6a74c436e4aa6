"""`mockmj serve --store sqlite:` on a filesystem that really fills up: a 1 MiB tmpfs, a filler file taking every
free block. Submissions get the dialect's 503 with Retry-After and charge nothing, health says why, reads go on,
and once the filler is gone the mock works again without a restart.

Mounting a tmpfs needs root (CI runs as root); elsewhere the test is skipped, saying so."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.stores import Worker, call, roomy

MOUNT_SKIP = "mounting a tmpfs (mount -t tmpfs) is not permitted: it needs root"
MAX_SUBMITS = 40  # submissions tried while filling, before the disk must have refused one
RECOVERY_S = 20  # the longest the mock may take to accept a submission again once space is back


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards whatever happened."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip(MOUNT_SKIP)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        if os.environ.get("CI"):  # CI runs as root on a machine that allows it: a refusal there is a failure
            pytest.fail(f"mount -t tmpfs failed under CI: {mounted.stderr.strip()}")
        pytest.skip(f"{MOUNT_SKIP} ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


class Filler:
    """A file that takes every free block of its filesystem, a few KiB more whenever asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def fill(self) -> None:
        chunk = b"\0" * 4096
        while True:
            try:
                os.write(self.fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return

    def remove(self) -> None:
        os.close(self.fd)
        self.path.unlink()


def is_store_503(answer: requests.Response) -> bool:
    if answer.status_code != 503:
        return False
    assert answer.headers["Retry-After"] == "1", answer.headers
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    body = answer.json()
    assert body["code"] == 503 and body["result"] is None and body["properties"] == {}, body
    assert "database or disk is full" in body["description"], body
    return True


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_is_answered_503_charges_nothing_and_the_mock_recovers(small_disk: Path, workers: str) -> None:
    server = Worker(f"sqlite:{small_disk / 'x.db'}", "--workers", workers, "--timing", "fast")
    filler = Filler(small_disk / "filler")
    try:
        roomy(server)
        before = call(server, "POST", "/mj/submit/imagine", json={"prompt": "before"}).json()["result"]
        money = call(server, "GET", "/_mockmj/keys/tenant-a").json()["balance"]
        # fill the disk; a submission may still fit in space SQLite already holds, so fill again after each
        acked, refused = [before], None
        for n in range(MAX_SUBMITS):
            filler.fill()
            answer = call(server, "POST", "/mj/submit/imagine", json={"prompt": f"while filling {n}"})
            if is_store_503(answer):
                refused = answer
                break
            assert answer.status_code == 200 and answer.json()["code"] == 1, answer.text
            acked.append(answer.json()["result"])
        assert refused is not None, f"{MAX_SUBMITS} submissions were stored on a full 1 MiB disk"
        # while full: every submission is refused the same way, health says why, reads go on
        for n in range(4):
            assert is_store_503(call(server, "POST", "/mj/submit/imagine", json={"prompt": f"full {n}"}))
        health = call(server, "GET", "/_mockmj/health")
        assert health.status_code == 503, health.text
        assert health.headers["Retry-After"] == "1"
        assert health.json()["status"] == "store unavailable"
        assert "database or disk is full" in health.json()["storeError"]
        for _ in range(4):  # fresh connections: each worker answers from what the store holds
            assert call(server, "GET", f"/mj/task/{before}/fetch").json()["id"] == before
            assert {t["id"] for t in call(server, "GET", "/mj/task/list").json()} == set(acked)
        filler.remove()
        # space is back: the mock works again by itself, nothing refused was kept or charged
        deadline = time.monotonic() + RECOVERY_S
        while (health := call(server, "GET", "/_mockmj/health")).status_code != 200:
            assert time.monotonic() < deadline, health.text
            time.sleep(0.2)
        for _ in range(4):
            assert {t["id"] for t in call(server, "GET", "/mj/task/list").json()} == set(acked)
        spent = 10 * (len(acked) - 1)  # an imagine costs 10 in the default prices
        assert call(server, "GET", "/_mockmj/keys/tenant-a").json()["balance"] == money - spent
        after = call(server, "POST", "/mj/submit/imagine", json={"prompt": "after"})
        assert after.status_code == 200 and after.json()["code"] == 1, after.text
        assert call(server, "GET", f"/mj/task/{after.json()['result']}/fetch").status_code == 200
    finally:
        server.stop()
        if filler.path.exists():
            filler.remove()
