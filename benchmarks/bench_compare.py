"""mockmj beside Prism and a bare Flask app, all in one run: the figures the performance goals are set on.

    python benchmarks/bench_compare.py [--duration 10] [--connections 32] [--threads 2] [--rounds 2]
                                       [--only mockmj,prism,hello-waitress,hello-granian,fetch,submit,scale]
                                       [--large 1000000] [--fill copies|engine]
                                       [--store sqlite: --store redis:] [--workers 1 --workers 2]

Every target is started first, each on its own free loopback port; then wrk (Debian package `wrk`) loads
one at a time, in `--rounds` turns over all of them, so that a change of the machine's load falls on every
target alike. What is measured:

- fetch of a finished task (one URL, GET /mj/task/{id}/fetch) and submit imagine (POST /mj/submit/imagine);
- targets: `mockmj serve` with its defaults (a subprocess); Prism 5 (`prism mock openapi.yaml`, installed
  by npm into a cache directory when missing); a Flask "hello" answering the very bytes of mockmj's fetch,
  on waitress configured as `mockmj serve` and on granian with one worker (fetch only);
- fetch latency with 1,000 and with `--large` stored tasks (benchmarks/filled_mock.py);
- then a table of req/s, p50, p99 and the goal ratios, each marked met or not.

Absolute figures move with the machine's load; the ratios are taken within one run. Nothing here is a test:
tests/serve/test_bench_compare.py checks only the parsing and the ratio arithmetic.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.util
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockmj.model.settings import Settings
from mockmj.web.delays import serving_threads

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent / "openapi.yaml"
HOST = "127.0.0.1"
KEY = "bench-key"
AUTH = f"Bearer {KEY}"
IMAGINE_BODY = '{"prompt":"a red fox in the snow --ar 3:2"}'
IMAGINE_PRICE = 10  # mockmj's default price of an imagine (config DEFAULT_PRICES)
PRISM_PACKAGE = "@stoplight/prism-cli@5"

MOCKMJ, PRISM, HELLO_WAITRESS, HELLO_GRANIAN = "mockmj", "prism", "hello-waitress", "hello-granian"
TARGETS = {
    MOCKMJ: "mockmj serve (defaults)",
    PRISM: "Prism 5 on openapi.yaml",
    HELLO_WAITRESS: "Flask hello, waitress 8 threads",
    HELLO_GRANIAN: "Flask hello, granian (as mockmj serve)",
}
MEASURES = ("fetch", "submit", "scale")
# the server `mockmj serve` runs on (granian, one worker, its blocking threads): the goal compares mockmj with
# a Flask hello on the same server, configured the same
HELLO_ON_MOCKMJ_SERVER = HELLO_GRANIAN
SERVE_THREADS = serving_threads(Settings())  # the blocking threads `mockmj serve` gives granian by default
# `mockmj serve --config` for the submit measure: a queue that never fills and money that never runs
# out, so that every request is an accepted submission (see submit_config's comment)
SUBMIT_BALANCE = 10**12
SUBMIT_CONFIG = f"""\
default_balance = {SUBMIT_BALANCE}
max_tasks = 100000000

[[accounts]]
queue_size = 100000000
"""


# ------------------------------------------------------------------------------------- pure parts
@dataclass(frozen=True)
class Load:
    """One load generator run: what wrk prints, in numbers."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int = 0
    socket_errors: int = 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def duration_ms(text: str) -> float:
    """wrk's latency figures ("850.12us", "3.10ms", "1.20s", "2.00m") in milliseconds."""
    match = re.fullmatch(r"\s*([\d.]+)\s*(us|ms|s|m|h)\s*", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> Load:
    """Read the figures of `wrk --latency` output; a missing one is an error, not a zero."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match

    done = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Load(
        requests=int(done[1]),
        seconds=duration_ms(done[2] + done[3]) / 1000,
        rps=float(find(r"^Requests/sec:\s*([\d.]+)")[1]),
        p50_ms=duration_ms(find(r"^\s*50%\s+(\S+)")[1]),
        p99_ms=duration_ms(find(r"^\s*99%\s+(\S+)")[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def combine(rounds: list[Load]) -> Load:
    """One figure from several rounds of the same measure: req/s over all of them, and the median of
    the rounds' p50 and p99 (wrk gives percentiles, not samples, so they cannot be merged exactly)."""
    if not rounds:
        raise ValueError("no round to combine")

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    requests = sum(r.requests for r in rounds)
    seconds = sum(r.seconds for r in rounds)
    return Load(requests=requests, seconds=seconds, rps=requests / seconds if seconds else 0.0,
                p50_ms=median([r.p50_ms for r in rounds]), p99_ms=median([r.p99_ms for r in rounds]),
                non_2xx=sum(r.non_2xx for r in rounds), socket_errors=sum(r.socket_errors for r in rounds))


def refusals_counted(found: Load, accepted: int) -> Load:
    """A submit run answers HTTP 200 even to a refusal (queue full, no balance): what the server counts
    as accepted must cover every answer wrk read, and the shortfall is reported as invalid answers.
    (The server may have accepted a few more than wrk read: requests in flight when wrk stopped.)"""
    shortfall = max(0, found.requests - accepted)
    return dataclasses.replace(found, non_2xx=found.non_2xx + shortfall)


@dataclass(frozen=True)
class Goal:
    """figure(target) / figure(baseline) must be ≥ threshold (or ≤ it, for a latency)."""

    label: str
    measure: str
    target: str
    baseline: str
    threshold: float
    figure: str = "rps"  # a field of Load
    at_most: bool = False


@dataclass(frozen=True)
class Verdict:
    goal: Goal
    ratio: float | None
    met: bool | None  # None: could not be judged (a figure is missing or invalid)
    why: str = ""


# measure → target → a Load, or the reason why there is none
Results = dict[str, dict[str, "Load | str"]]


def goals(large: int, small: int) -> list[Goal]:
    return [
        Goal("fetch ≥ 3× Prism", "fetch", MOCKMJ, PRISM, 3.0),
        Goal("fetch ≥ 0.6× Flask hello on the same server", "fetch", MOCKMJ, HELLO_ON_MOCKMJ_SERVER, 0.6),
        Goal("submit ≥ 1.5× Prism", "submit", MOCKMJ, PRISM, 1.5),
        Goal(f"fetch p50 at {large:,} tasks ≤ 1.2× at {small:,}", "scale", scale_name(large), scale_name(small),
             1.2, figure="p50_ms", at_most=True),
    ]


def scale_name(tasks: int) -> str:
    return f"{tasks:,} tasks"


def usable(found: Load | str | None) -> tuple[Load | None, str]:
    """A figure to compute a ratio from, or why not: a run with non-2xx answers measured something else."""
    if found is None:
        return None, "not measured"
    if isinstance(found, str):
        return None, found
    if found.non_2xx:
        return None, f"{found.non_2xx} non-2xx answers"
    if found.requests == 0:
        return None, "no request completed"
    return found, ""


def judge(goal: Goal, results: Results) -> Verdict:
    figures = results.get(goal.measure, {})
    mine, why_mine = usable(figures.get(goal.target))
    theirs, why_theirs = usable(figures.get(goal.baseline))
    if mine is None or theirs is None:
        side = goal.target if mine is None else goal.baseline
        return Verdict(goal, None, None, f"{side}: {why_mine or why_theirs}")
    denominator = getattr(theirs, goal.figure)
    if denominator <= 0:
        return Verdict(goal, None, None, f"{goal.baseline}: {goal.figure} is 0")
    ratio = getattr(mine, goal.figure) / denominator
    met = ratio <= goal.threshold if goal.at_most else ratio >= goal.threshold
    return Verdict(goal, ratio, met)


def render_table(results: Results, names: dict[str, str]) -> str:
    rows = ["| measure | target | req/s | p50 | p99 | note |", "|---|---|---:|---:|---:|---|"]
    for measure, figures in results.items():
        for target, found in figures.items():
            name = names.get(target, target)
            if isinstance(found, str):
                rows.append(f"| {measure} | {name} | – | – | – | {found} |")
                continue
            notes = []
            if found.non_2xx:
                notes.append(f"INVALID: {found.non_2xx} of {found.requests} not 2xx or refused")
            if found.socket_errors:
                notes.append(f"{found.socket_errors} socket errors")
            rows.append(f"| {measure} | {name} | {found.rps:,.0f} | {found.p50_ms:.2f} ms | {found.p99_ms:.2f} ms "
                        f"| {'; '.join(notes)} |")
    return "\n".join(rows)


def render_verdicts(verdicts: list[Verdict]) -> str:
    rows = ["| goal | ratio in this run | met? |", "|---|---:|---|"]
    for v in verdicts:
        ratio = f"{v.ratio:.2f}×" if v.ratio is not None else "–"
        met = {True: "**met**", False: "not met", None: f"not judged ({v.why})"}[v.met]
        rows.append(f"| {v.goal.label} | {ratio} | {met} |")
    return "\n".join(rows)


def parse_only(raw: str | None) -> tuple[set[str], set[str]]:
    """`--only` names targets and/or measures; what it does not restrict is all of them."""
    words = {w.strip() for w in (raw or "").split(",") if w.strip()}
    unknown = words - set(TARGETS) - set(MEASURES)
    if unknown:
        raise ValueError(f"--only: unknown {', '.join(sorted(unknown))}; "
                         f"choose among {', '.join([*TARGETS, *MEASURES])}")
    targets = words & set(TARGETS) or set(TARGETS)
    measures = words & set(MEASURES) or set(MEASURES)
    return targets, measures


def variant_args(stores: list[str], workers: list[int]) -> list[list[str]]:
    """The `mockmj serve` options of each extra variant (--store × --workers); none without them."""
    if not stores and not workers:
        return []
    combos = itertools.product(stores or [None], workers or [None])
    return [[*(["--store", s] if s else []), *(["--workers", str(w)] if w else [])] for s, w in combos]


# ------------------------------------------------------------------------------------- processes
class Processes:
    """Every process this run starts, each in its own session so that stopping it stops its children
    (Prism's node workers, granian's worker); all are stopped on exit, Ctrl-C or SIGTERM."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None, stdout: int | None = None) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (kept open by the child)
        proc = subprocess.Popen(argv, stdout=stdout or log, stderr=log, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
        log.close()
        self.running.append(proc)
        return proc

    def log_tail(self, name: str, lines: int = 6) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " / ".join(text.strip().splitlines()[-lines:])

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def call_http(method: str, url: str, body: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body.encode() if body else None, method=method,
                                     headers={"Authorization": AUTH, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class NotAvailable(Exception):
    """A target that cannot be measured in this run; the message says why."""


def wait_until_up(proc: subprocess.Popen[bytes], url: str, seconds: float, procs: Processes, name: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotAvailable(f"exited with {proc.returncode}: {procs.log_tail(name)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            call_http("GET", url, timeout=2)
            return  # any HTTP answer: it listens
        time.sleep(0.2)
    raise NotAvailable(f"not listening after {seconds:.0f} s: {procs.log_tail(name)}")


# ------------------------------------------------------------------------------------- load generation
@dataclass(frozen=True)
class Shape:
    duration: int
    connections: int
    threads: int


def run_load(url: str, shape: Shape, seconds: int, scratch: Path, method: str = "GET", body: str | None = None,
             paths: list[str] | None = None) -> Load:
    """wrk on `url` (or rotating over `paths` of it), or the Python fallback when wrk is missing."""
    if shutil.which("wrk") is None:
        return python_load(url, shape, seconds, method, body, paths)
    script = scratch / "load.lua"
    script.write_text(wrk_script(method, body, paths))
    argv = ["wrk", "--latency", f"-t{shape.threads}", f"-c{shape.connections}", f"-d{seconds}s", "--timeout", "10s",
            "-H", f"Authorization: {AUTH}", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise NotAvailable(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


def wrk_script(method: str = "GET", body: str | None = None, paths: list[str] | None = None) -> str:
    """The Lua that makes wrk send a body (submit) or rotate over many paths (fetch of many tasks).
    Without `paths` wrk sends one prepared request again and again, its fastest way."""
    lines = []
    if body is not None:
        lines += [f"wrk.method = {json.dumps(method)}", f"wrk.body = {json.dumps(body)}",
                  'wrk.headers["Content-Type"] = "application/json"']
    if paths:
        lines += ["local paths = {" + ",".join(json.dumps(p) for p in paths) + "}", "local n = 0",
                  "request = function()", "  n = n + 1",
                  "  return wrk.format(nil, paths[n % #paths + 1])", "end"]
    return "\n".join(lines) + "\n"


def python_load(url: str, shape: Shape, seconds: int, method: str, body: str | None,
                paths: list[str] | None) -> Load:
    """A small keep-alive load generator (one thread per connection) for machines without wrk. It shares
    the GIL with nothing but itself, yet is far slower than wrk: its figures are a floor."""
    from urllib.parse import urlsplit

    target = urlsplit(url)
    latencies: list[float] = []
    failures = [0]
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()

    def connection(offset: int) -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        mine: list[float] = []
        n = offset
        while time.monotonic() < stop_at:
            path = paths[n % len(paths)] if paths else target.path
            n += 1
            started = time.perf_counter()
            conn.request(method, path, body=body, headers={"Authorization": AUTH, "Content-Type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            mine.append((time.perf_counter() - started) * 1000)
            if not 200 <= answer.status < 400:
                with lock:
                    failures[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=connection, args=(i,)) for i in range(shape.connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return Load(len(latencies), wall, len(latencies) / wall, pick(0.5), pick(0.99), non_2xx=failures[0])


# ------------------------------------------------------------------------------------- targets
@dataclass
class Endpoint:
    """What the load generator hits for one measure of one target."""

    url: str
    method: str = "GET"
    body: str | None = None
    paths: list[str] | None = None  # rotate over these paths of `url`'s server (many stored tasks)
    accepted: Callable[[], int] | None = None  # submissions the server has accepted so far (mockmj)

    def load(self, shape: Shape, seconds: int, scratch: Path) -> Load:
        return run_load(self.url, shape, seconds, scratch, self.method, self.body, self.paths)


class Bench:
    """Starts every target of the run (each on its own free port), then loads them in rounds."""

    def __init__(self, shape: Shape, procs: Processes, scratch: Path, stack: contextlib.ExitStack) -> None:
        self.shape = shape
        self.procs = procs
        self.scratch = scratch
        self.stack = stack  # stops every server when the run ends, however it ends
        self.answer: bytes | None = None  # mockmj's fetch answer: the bytes the hello apps send
        self.redis_port: int | None = None  # the run's own redis-server, started for a `redis:` store
        self.redis_databases = itertools.count()
        self.names = dict(TARGETS)  # how the table names each target (Prism's with its version)

    def serve(self, name: str, argv: list[str], health: str, up_within: float = 30, **kw: Any) -> str:
        """Start a server, wait until it answers HTTP; its base URL. It is stopped with the run."""
        port = free_port()
        name = f"{name}-{port}"  # the name of its log: one per process
        proc = self.procs.start(name, [a.replace("{port}", str(port)) for a in argv], **kw)
        self.stack.callback(self.procs.stop, proc)
        base = f"http://{HOST}:{port}"
        wait_until_up(proc, base + health, up_within, self.procs, name)
        return base

    # --- mockmj
    def fresh_redis(self) -> str:
        """A database of its own on the run's redis-server (started the first time): one per target."""
        if self.redis_port is None:
            binary = shutil.which("redis-server")
            if binary is None:
                raise NotAvailable("redis-server is not installed (apt-get install redis-server)")
            port = free_port()
            proc = self.procs.start("redis", [binary, "--port", str(port), "--bind", HOST, "--save", "",
                                              "--appendonly", "no", "--databases", "64"], cwd=self.scratch)
            self.stack.callback(self.procs.stop, proc)
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise NotAvailable(f"redis-server did not start: {self.procs.log_tail('redis')}")
                time.sleep(0.05)
            self.redis_port = port
        return f"redis://{HOST}:{self.redis_port}/{next(self.redis_databases)}"

    def mockmj_argv(self, extra: list[str]) -> list[str]:
        # a placeholder store gets a fresh one: `sqlite:` a file of this run's scratch directory, `redis:` a
        # database of the run's own redis-server
        extra = [f"sqlite:{self.scratch / f'store-{time.monotonic_ns()}.db'}" if a == "sqlite:"
                 else self.fresh_redis() if a == "redis:" else a for a in extra]
        return [sys.executable, "-m", "mockmj", "serve", "--host", HOST, "--port", "{port}", *extra]

    def finished_task(self, base: str) -> tuple[str, bytes]:
        """Submit one imagine and poll until it is SUCCESS (fast timing: about a second)."""
        status, raw = call_http("POST", base + "/mj/submit/imagine", IMAGINE_BODY)
        task_id = json.loads(raw).get("result") if status == 200 else None
        if not task_id:
            raise NotAvailable(f"imagine answered {status}: {raw[:200]!r}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, raw = call_http("GET", f"{base}/mj/task/{task_id}/fetch")
            if status == 200 and json.loads(raw).get("status") == "SUCCESS":
                return f"{base}/mj/task/{task_id}/fetch", raw
            time.sleep(0.2)
        raise NotAvailable(f"task {task_id} not SUCCESS after 30 s")

    def mockmj_fetch(self, extra: list[str]) -> Endpoint:
        base = self.serve("mockmj-fetch", self.mockmj_argv(extra), "/_mockmj/health")
        url, answer = self.finished_task(base)
        if not extra:
            self.answer = answer
        return Endpoint(url)

    def mockmj_submit(self, extra: list[str]) -> Endpoint:
        # Every request must be an accepted submission, with nothing else of the defaults changed: one
        # account as by default (3 slots; many slots or accounts would make each submission scan them),
        # whose queue is long enough never to answer "queue full"; a balance that never runs out; and a
        # max_tasks that evicts nothing, since the queued tasks never finish during the run.
        config = self.scratch / "submit.toml"
        config.write_text(SUBMIT_CONFIG)
        base = self.serve("mockmj-submit", self.mockmj_argv(["--config", str(config), *extra]), "/_mockmj/health")
        return Endpoint(base + "/mj/submit/imagine", "POST", IMAGINE_BODY,
                        accepted=lambda: self.spent(base) // IMAGINE_PRICE)

    def spent(self, base: str) -> int:
        status, raw = call_http("GET", f"{base}/_mockmj/keys/{KEY}")
        if status != 200:
            raise NotAvailable(f"GET /_mockmj/keys/{KEY} answered {status}")
        return SUBMIT_BALANCE - int(json.loads(raw)["balance"])

    # --- Prism
    def prism_binary(self, cache: Path) -> Path:
        binary = cache / "prism5" / "node_modules" / ".bin" / "prism"
        if binary.exists():
            return self.named_prism(binary)
        if shutil.which("npm") is None:
            raise NotAvailable("npm is not installed")
        print(f"installing {PRISM_PACKAGE} into {cache / 'prism5'} (once; not counted in the run's time)…",
              flush=True)
        try:
            done = subprocess.run(["npm", "install", "--prefix", str(cache / "prism5"), PRISM_PACKAGE,
                                   "--no-audit", "--no-fund"], capture_output=True, text=True, timeout=600,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise NotAvailable("npm install timed out (registry unreachable?)") from None
        if done.returncode != 0 or not binary.exists():
            tail = " / ".join(done.stderr.strip().splitlines()[-3:])
            raise NotAvailable(f"npm install failed (registry unreachable?): {tail}")
        return self.named_prism(binary)

    def named_prism(self, binary: Path) -> Path:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60,
                                     check=False).stdout.strip()
            if re.fullmatch(r"[\d.]+", version):
                self.names[PRISM] = f"Prism {version} on openapi.yaml"
        return binary

    def prism(self, cache: Path, measures: set[str]) -> dict[str, Endpoint | str]:
        argv = [str(self.prism_binary(cache)), "mock", str(SPEC), "-h", HOST, "-p", "{port}"]
        base = self.serve("prism", argv, "/mj/task/1/fetch", up_within=90)
        out: dict[str, Endpoint | str] = {}
        if "fetch" in measures:
            url = f"{base}/mj/task/1732406400123456/fetch"
            status, _ = call_http("GET", url)
            out["fetch"] = Endpoint(url) if status == 200 else f"not measured: Prism answered {status} to a fetch"
        if "submit" in measures:
            url = base + "/mj/submit/imagine"
            status, _ = call_http("POST", url, IMAGINE_BODY)
            out["submit"] = (Endpoint(url, "POST", IMAGINE_BODY) if status == 200
                             else f"not measured: Prism answered {status} to a submit")
        return out

    # --- the Flask hello
    def answer_file(self) -> Path:
        if self.answer is None:  # mockmj's fetch is not measured in this run: ask it once
            _, self.answer = self.finished_task(self.serve("mockmj-answer", self.mockmj_argv([]), "/_mockmj/health"))
        path = self.scratch / "answer.json"
        path.write_bytes(self.answer)
        return path

    def hello_waitress(self) -> Endpoint:
        env = {"MOCKMJ_BENCH_BODY": str(self.answer_file())}
        argv = [sys.executable, str(HERE / "hello_app.py"), "--host", HOST, "--port", "{port}"]
        return Endpoint(self.serve("hello-waitress", argv, "/", env=env) + "/mj/task/1/fetch")

    def hello_granian(self) -> Endpoint:
        ensure_granian()
        env = {"MOCKMJ_BENCH_BODY": str(self.answer_file()), "PYTHONPATH": str(HERE)}
        argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--host", HOST,
                "--blocking-threads", str(SERVE_THREADS), "--http", "1", "--no-ws",
                "--port", "{port}", "--log-level", "warning", "hello_app:app"]
        return Endpoint(self.serve("hello-granian", argv, "/", env=env, cwd=HERE) + "/mj/task/1/fetch")

    # --- fetch with many stored tasks
    def start_filling(self, tasks: int, fill: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, str(HERE / "filled_mock.py"), "--tasks", str(tasks), "--fill", fill, "--host", HOST]
        proc = self.procs.start(f"filled-{tasks}", argv, stdout=subprocess.PIPE)
        self.stack.callback(self.procs.stop, proc)
        return proc

    def filled(self, proc: subprocess.Popen[bytes], tasks: int, fill_timeout: float) -> Endpoint:
        ready = read_first_line(proc, fill_timeout)
        if ready is None:
            raise NotAvailable(f"not filled within {fill_timeout:.0f} s: {self.procs.log_tail(f'filled-{tasks}')}")
        info = json.loads(ready)
        print(f"  {info['stored']:,} tasks stored ({info['fill']}) in {info['fill_seconds']} s, "
              f"peak RSS {info['peak_rss_mb']:,} MB", flush=True)
        return Endpoint(f"http://{HOST}:{info['port']}/", paths=[f"/mj/task/{i}/fetch" for i in info["ids"]])


def read_first_line(proc: subprocess.Popen[bytes], seconds: float) -> str | None:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(seconds)
    return got[0].decode() if got and got[0] else None


def ensure_granian() -> None:
    """granian comes with the `bench` extra (pip install -e '.[bench]'); else pip installs it here."""
    if importlib.util.find_spec("granian") is not None:
        return
    print("installing granian into this environment (pip; the `bench` extra of pyproject.toml)…", flush=True)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "granian"], capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise NotAvailable(f"granian is not installed and pip could not install it: {done.stderr.strip()[-200:]}")


# ------------------------------------------------------------------------------------- the run
def unavailable_option(reason: str) -> str:
    """Today's `mockmj serve` has no --store/--workers: say so plainly instead of quoting click."""
    option = re.search(r"No such option:? '?(--[\w-]+)", reason)
    return f"not available yet (mockmj serve has no {option[1]} option)" if option else reason


def prepare(what: str, call: Callable[..., Endpoint], *args: Any) -> Endpoint | str:
    print(f"starting {what}…", flush=True)
    try:
        return call(*args)
    except NotAvailable as exc:
        print(f"  not measured: {exc}", flush=True)
        return unavailable_option(f"not measured: {exc}")


def start_targets(bench: Bench, args: argparse.Namespace, targets: set[str],
                  measures: set[str]) -> dict[str, dict[str, Endpoint | str]]:
    """Every selected target up and checked, before any load: measure → target → endpoint (or why not)."""
    plan: dict[str, dict[str, Endpoint | str]] = {m: {} for m in MEASURES if m in measures}
    scaled = "scale" in measures and MOCKMJ in targets
    # the stores fill (the large one for a minute or so) while the other targets start
    filling = {tasks: bench.start_filling(tasks, args.fill) for tasks in (args.small, args.large)} if scaled else {}
    if MOCKMJ in targets:
        for extra in [[], *variant_args(args.store, args.workers)]:
            name = MOCKMJ if not extra else "mockmj serve " + " ".join(extra)
            for m in ("fetch", "submit"):
                if m in measures:
                    plan[m][name] = prepare(f"{m}: {bench.names.get(name, name)}", getattr(bench, f"mockmj_{m}"),
                                            extra)
    if PRISM in targets and measures & {"fetch", "submit"}:
        print("starting Prism 5…", flush=True)
        try:
            plan.update({m: {**plan[m], PRISM: found} for m, found in bench.prism(args.cache, measures).items()})
        except NotAvailable as exc:
            print(f"  not measured: {exc}", flush=True)
            for m in measures & {"fetch", "submit"}:
                plan[m][PRISM] = f"not measured: {exc}"
    if "fetch" in measures:
        for name, start in ((HELLO_WAITRESS, bench.hello_waitress), (HELLO_GRANIAN, bench.hello_granian)):
            if name in targets:
                plan["fetch"][name] = prepare(TARGETS[name], start)
    for tasks, proc in filling.items():
        plan["scale"][scale_name(tasks)] = prepare(f"fetch with {tasks:,} stored tasks", bench.filled, proc, tasks,
                                                   args.fill_timeout)
    return plan


def load_in_rounds(bench: Bench, plan: dict[str, dict[str, Endpoint | str]], rounds: int) -> Results:
    """A warm-up of each endpoint, then `rounds` turns over all of them: a change of the machine's load
    during the run falls on every target alike instead of on whichever ran at that moment."""
    seconds = max(1, round(bench.shape.duration / rounds))
    warmup = max(1, min(3, bench.shape.duration // 5))
    live = {(m, t): e for m, row in plan.items() for t, e in row.items() if isinstance(e, Endpoint)}
    results: Results = {m: {t: e for t, e in row.items() if isinstance(e, str)} for m, row in plan.items()}
    loads: dict[tuple[str, str], list[Load]] = {key: [] for key in live}
    for key, endpoint in list(live.items()):
        try:
            endpoint.load(bench.shape, warmup, bench.scratch)  # not counted: caches, JIT, connection pools
        except NotAvailable as exc:
            results[key[0]][key[1]] = f"not measured: {exc}"
            del live[key]
    accepted_before = {key: e.accepted() for key, e in live.items() if e.accepted}
    for turn in range(rounds):
        print(f"round {turn + 1} of {rounds}: {len(live)} × {seconds} s…", flush=True)
        for key, endpoint in list(live.items()):
            try:
                loads[key].append(endpoint.load(bench.shape, seconds, bench.scratch))
            except NotAvailable as exc:
                results[key[0]][key[1]] = f"not measured: {exc}"
                del live[key]
    for key, endpoint in live.items():
        found = combine(loads[key])
        if endpoint.accepted:
            found = refusals_counted(found, endpoint.accepted() - accepted_before[key])
        results[key[0]][key[1]] = found
    # the table lists the targets in the order they were planned
    return {m: {t: results[m][t] for t in row} for m, row in plan.items()}


def run(args: argparse.Namespace) -> tuple[Results, dict[str, str]]:
    targets, measures = parse_only(args.only)
    shape = Shape(args.duration, args.connections, args.threads)
    with tempfile.TemporaryDirectory(prefix="mockmj-bench-") as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        procs = Processes(scratch)
        stack.callback(procs.stop_all)
        bench = Bench(shape, procs, scratch, stack)
        plan = start_targets(bench, args, targets, measures)
        return load_in_rounds(bench, plan, args.rounds), bench.names


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10,
                        help="seconds of load per measure, over all rounds (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="open connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="turns over all targets, each taking duration/rounds seconds (default 2)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated targets and/or measures: {', '.join([*TARGETS, *MEASURES])}")
    parser.add_argument("--small", type=int, default=1_000, help="stored tasks of the small store (default 1000)")
    parser.add_argument("--large", type=int, default=1_000_000, help="stored tasks of the large store")
    parser.add_argument("--fill", choices=["copies", "engine"], default="copies",
                        help="how the stores are filled (see benchmarks/filled_mock.py; default copies)")
    parser.add_argument("--fill-timeout", type=float, default=900, help="seconds allowed to fill a store")
    parser.add_argument("--store", action="append", default=[],
                        help="also measure `mockmj serve --store X` (repeatable; `sqlite:` alone: a fresh file, "
                             "`redis:` alone: a database of a redis-server the run starts)")
    parser.add_argument("--workers", action="append", type=int, default=[],
                        help="also measure `mockmj serve --workers N` (repeatable; combined with each --store)")
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mockmj-bench",
                        help="where Prism is installed by npm (default ~/.cache/mockmj-bench)")
    args = parser.parse_args(argv)
    try:
        parse_only(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    # SIGTERM stops the run like Ctrl-C does: through the finally that stops every server
    signal.signal(signal.SIGTERM, _interrupt)
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        results, names = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every server this run started is stopped", file=sys.stderr)
        return 130
    print()
    print(f"wrk -t{args.threads} -c{args.connections}, {args.duration} s per measure, on {os.cpu_count()} cores; "
          f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"{time.monotonic() - started:.0f} s in all" + ("" if shutil.which("wrk") else
                                                           "; wrk missing: the Python load generator was used"))
    print()
    print(render_table(results, names))
    print()
    print(render_verdicts([judge(g, results) for g in goals(args.large, args.small)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
