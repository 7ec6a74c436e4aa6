"""Start-up of `mockmj serve` on a large shared store (figures printed, never asserted). Loopback only.

    python benchmarks/bench_startup.py [--tasks 1000] [--stores sqlite,redis] [--workers 2] [--runs 3]

For each store: a store holding `--tasks` finished imagine tasks is filled once (bench_limits.fill_store: 1,000
real submissions, the rest copies of them with fresh ids, written in the store's own record format), then
`--runs` times `mockmj serve --store … --workers N --quiet` is started and timed from the exec to its first 200
on `GET /_mockmj/health` and to the first 200 of `GET /mj/task/list` (a request that reads the store's tasks);
once every worker's RSS has stopped growing (two samples 0.5 s apart within 1 MB, at most 600 s) the RSS and
PSS of the supervisor and of each worker are read from /proc (Linux only) and printed, with the process tree's
sum. The server is stopped before the next run. `redis` needs a `redis-server` binary (Debian package
`redis-server`); it runs one of its own on a free loopback port, in a temporary folder (bench_faults' `Redis`: an
append-only file synced at every write, which slows the fill, not the start).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_faults import Redis, stop_serve  # noqa: E402  (a sibling script, not a package)
from bench_hostile import MB, free_port, proc_status, tree  # noqa: E402
from bench_limits import KEY, fill_store  # noqa: E402

SETTLE_MAX_S = 600.0  # the longest a run waits for the workers' memory to stop growing
START_MAX_S = 1800.0  # the longest a start may take before the run is given up


@dataclass
class Start:
    health_s: float
    list_s: float
    supervisor: tuple[int, int]  # RSS, PSS in bytes
    workers: list[tuple[int, int]] = field(default_factory=list)

    @property
    def tree_rss(self) -> int:
        return self.supervisor[0] + sum(rss for rss, _ in self.workers)

    @property
    def tree_pss(self) -> int:
        return self.supervisor[1] + sum(pss for _, pss in self.workers)


def pss(pid: int) -> int:
    """Proportional set size (shared pages split among the processes sharing them), in bytes; 0 if unknown."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def first_200(url: str, proc: subprocess.Popen[bytes], started: float, headers: dict[str, str], log: Path) -> float:
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, headers=headers, timeout=30).status_code == 200:
                return time.perf_counter() - started
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mockmj serve exited with {proc.returncode}; its last output:\n{tail}")
        if time.perf_counter() - started > START_MAX_S:
            raise RuntimeError(f"no 200 from {url} within {START_MAX_S:.0f} s")
        time.sleep(0.05)


def settled_workers(supervisor: int, workers: int) -> list[int]:
    """The worker pids once there are `workers` of them and none has grown by more than 1 MB in 0.5 s."""
    deadline = time.monotonic() + SETTLE_MAX_S
    last: dict[int, int] = {}
    while True:
        pids = [pid for pid in tree(supervisor) if pid != supervisor]
        now: dict[int, int] = {}
        for pid in pids:
            with contextlib.suppress(OSError, KeyError):
                now[pid] = proc_status(pid, "VmRSS")
        steady = len(now) == workers and now.keys() == last.keys() and all(
            abs(now[pid] - last[pid]) < MB for pid in now)
        if steady or time.monotonic() > deadline:
            return sorted(now)
        last = now
        time.sleep(0.5)


def start_once(store: str, workers: int, folder: Path) -> Start:
    port = free_port()
    log = folder / "serve.log"
    argv = [sys.executable, "-m", "mockmj", "serve", "--store", store, "--workers", str(workers),
            "--port", str(port), "--quiet"]
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with log.open("wb") as output:
        proc = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT)
    try:
        health = first_200(base + "/_mockmj/health", proc, started, {}, log)
        listed = first_200(base + "/mj/task/list", proc, started, {"Authorization": f"Bearer {KEY}"}, log)
        pids = settled_workers(proc.pid, workers)
        return Start(health, listed, (proc_status(proc.pid, "VmRSS"), pss(proc.pid)),
                     [(proc_status(pid, "VmRSS"), pss(pid)) for pid in pids])
    finally:
        stop_serve(proc, timeout=30)


def mb(value: float) -> str:
    return f"{value / MB:,.0f}"


def spread(values: list[float], unit: str, fmt: str = "{:.1f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0]) + unit
    return (f"{fmt.format(statistics.median(values))}{unit} (min {fmt.format(min(values))}, "
            f"max {fmt.format(max(values))}, {len(values)} runs)")


def starts_of(store: str, args: argparse.Namespace, folder: Path) -> list[Start | str]:
    """Each run's figures, or why it failed (a server that exits is a figure too)."""
    out: list[Start | str] = []
    for _ in range(args.runs):
        try:
            out.append(start_once(store, args.workers, folder))
        except RuntimeError as exc:
            lines = str(exc).splitlines()
            errors = [line for line in lines if "Error" in line and not line.startswith(" ")]
            out.append(" / ".join([lines[0], *errors[-2:]]))
    return out


def report(label: str, fill_s: float, size: str, runs: list[Start | str]) -> None:
    print(f"\n{label}: filled in {fill_s:.1f} s; {size}")
    for n, failed in enumerate(runs, 1):
        if isinstance(failed, str):
            print(f"  run {n} FAILED: {failed}")
    starts = [s for s in runs if isinstance(s, Start)]
    if not starts:
        return
    print(f"  first 200 on /_mockmj/health: {spread([s.health_s for s in starts], ' s')}")
    print(f"  first 200 on /mj/task/list:   {spread([s.list_s for s in starts], ' s')}")
    for n, start in ((n, s) for n, s in enumerate(runs, 1) if isinstance(s, Start)):
        workers = ", ".join(f"{mb(rss)} MB (PSS {mb(p)})" for rss, p in start.workers)
        print(f"  run {n}: supervisor {mb(start.supervisor[0])} MB (PSS {mb(start.supervisor[1])}); "
              f"workers {workers}; tree RSS {mb(start.tree_rss)} MB, PSS {mb(start.tree_pss)} MB")


def bench_sqlite(folder: Path, args: argparse.Namespace) -> None:
    path = folder / "startup.db"
    began = time.perf_counter()
    fill_store(f"sqlite:{path}", args.tasks)
    fill_s = time.perf_counter() - began
    size = sum(p.stat().st_size for p in folder.glob("startup.db*"))
    starts = starts_of(f"sqlite:{path}", args, folder)
    report(f"sqlite, {args.tasks:,} tasks, {args.workers} workers", fill_s, f"file (db + WAL) {mb(size)} MB", starts)


def bench_redis(folder: Path, args: argparse.Namespace) -> None:
    if shutil.which("redis-server") is None:
        print("\nredis: skipped (no redis-server binary)")
        return
    redis = Redis(folder)
    try:
        began = time.perf_counter()
        fill_store(redis.url, args.tasks)
        fill_s = time.perf_counter() - began
        import redis as redis_py

        client = redis_py.Redis.from_url(redis.url)
        used = int(client.info("memory")["used_memory"])
        client.close()
        starts = starts_of(redis.url, args, folder)
        report(f"redis, {args.tasks:,} tasks, {args.workers} workers", fill_s, f"Redis used_memory {mb(used)} MB",
               starts)
    finally:
        redis.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000, help="finished tasks in the store (default 1,000)")
    parser.add_argument("--stores", default="sqlite,redis", help="comma-separated: sqlite, redis")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="starts per store (default 3)")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    print(f"mockmj serve start-up on a store of {args.tasks:,} finished tasks ({os.cpu_count()} cores; "
          "figures from a machine that may be busy: rough)")
    for store in stores:
        with tempfile.TemporaryDirectory(prefix=f"mockmj-startup-{store}-") as folder:
            {"sqlite": bench_sqlite, "redis": bench_redis}[store](Path(folder), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
