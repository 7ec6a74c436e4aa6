"""Every goal of the "performance near the limit" table, measured side by side in one run (printed, never
asserted).

    python benchmarks/bench_limits.py [--runs 3] [--duration 8] [--connections 32]
                                      [--memory-tasks 100000] [--sqlite-small 1000] [--sqlite-large 1000000]
                                      [--only fetch,submit,scale,memory,sqlite,help,start]

All servers are started first, each on its own free loopback port; then `--runs` passes load them one after
the other (wrk, Debian package `wrk`), so that a change of the machine's load falls on every target of a
pass alike, and every ratio is taken within one pass. The table prints each pass's figure and the spread.

- fetch: GET /mj/task/{id}/fetch of a finished task, on `mockmj serve` with its defaults (access log on),
  with `--quiet`, and a bare WSGI callable returning the same bytes (benchmarks/hello_app.py `bare`) on granian
  with one worker and the blocking threads `mockmj serve` gives it; beside them, `mockmj serve --threads 1
  --spare-threads 0` and the bare callable on one blocking thread (LEAN: not a goal, what that setting buys);
- submit: POST /mj/submit/imagine on `mockmj serve` (every answer an accepted submission), the same with LEAN,
  and Prism 5 on the same openapi.yaml (installed by npm into ~/.cache/mockmj-bench when missing);
- scale: fetch with wrk's one thread, `--store redis://` with two workers and with one (a redis-server of the
  run's own, Debian package `redis-server`);
- memory: RSS of a process holding `--memory-tasks` finished imagine tasks in the memory store, per 100,000,
  submitted under steady use (the clock moves 4 s per submission, so tasks finish as new ones come); and, as a
  second figure, submitted in one burst (all open at once: what open tasks cost, not the goal);
- sqlite: RSS of the one worker of `mockmj serve --store sqlite:FILE` holding `--sqlite-large` stored tasks,
  divided by the same with `--sqlite-small` (files filled once per run of this script, before the passes);
- help: wall time of `mockmj --help` (median of 5 per pass); start: `mockmj serve` started until its first
  200 on /_mockmj/health (median of 3 per pass, each a warm start: the same command ran just before). Both
  print the processor time used beside the wall time, and the load average: on a shared machine the
  difference is time spent waiting for a core.

RSS is read from /proc (Linux only). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_compare import (  # noqa: E402  (a sibling script, not a package)
    IMAGINE_BODY,
    KEY,
    SERVE_THREADS,
    Bench,
    Endpoint,
    Load,
    NotAvailable,
    Processes,
    Shape,
    call_http,
    free_port,
    refusals_counted,
)
from bench_hostile import MB, proc_status, tree  # noqa: E402

PARTS = ("fetch", "submit", "scale", "memory", "sqlite", "help", "start")
# `mockmj serve` with one thread and no spare ones: what a mock that simulates no delay may choose (the defaults
# keep 64 spare threads for delayed requests, which a busy mock pays for: see web/delays.py). Measured beside the
# goals, which are the defaults'.
LEAN = ("--threads", "1", "--spare-threads", "0")


@dataclass(frozen=True)
class Goal:
    label: str
    threshold: float
    at_most: bool = False  # a time or a size: the figure must stay at or under the threshold
    unit: str = "×"


GOALS = {
    "fetch": Goal("fetch, defaults ÷ bare WSGI on granian (1 worker each)", 0.5),
    "quiet": Goal("fetch, defaults ÷ --quiet", 0.9),
    "fetch-lean": Goal(f"fetch, {' '.join(LEAN)} ÷ bare WSGI (1 blocking thread each)", 0.5),
    "submit": Goal("submit imagine ÷ Prism 5", 3.0),
    "submit-lean": Goal(f"submit imagine, {' '.join(LEAN)} ÷ Prism 5", 3.0),
    "scale": Goal("fetch, 2 workers ÷ 1 on redis:// (wrk 1 thread)", 1.5),
    "memory": Goal("RSS per 100,000 finished tasks, memory store", 100.0, at_most=True, unit=" MB"),
    "sqlite": Goal("RSS of a sqlite: worker, large store ÷ small", 1.5, at_most=True),
    "help": Goal("mockmj --help wall time", 0.3, at_most=True, unit=" s"),
    "start": Goal("mockmj serve start to first 200 (warm)", 0.7, at_most=True, unit=" s"),
}


@dataclass
class Figures:
    """goal → one figure per pass (None: not measured in that pass), and notes on how they were made."""

    passes: dict[str, list[float | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, goal: str, value: float | None) -> None:
        self.passes.setdefault(goal, []).append(value)


# ------------------------------------------------------------------------------------ throughput
def rps(endpoint: Endpoint, bench: Bench, shape: Shape, seconds: int) -> Load:
    found = endpoint.load(shape, seconds, bench.scratch)
    if endpoint.accepted is not None:  # a submit: every answer must have been an accepted submission
        found = refusals_counted(found, endpoint.accepted())
    if found.non_2xx or found.socket_errors:
        raise NotAvailable(f"{found.non_2xx} non-2xx answers, {found.socket_errors} socket errors")
    return found


def bare_granian(bench: Bench, threads: int = SERVE_THREADS) -> Endpoint:
    env = {"MOCKMJ_BENCH_BODY": str(bench.answer_file()), "PYTHONPATH": str(HERE)}
    argv = [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--host", "127.0.0.1",
            "--blocking-threads", str(threads), "--http", "1", "--no-ws", "--port", "{port}",
            "--log-level", "warning", "hello_app:bare"]
    return Endpoint(bench.serve(f"bare-granian-{threads}", argv, "/", env=env, cwd=HERE) + "/mj/task/1/fetch")


def throughput_pass(bench: Bench, targets: dict[str, Endpoint], args: argparse.Namespace,
                     figures: Figures) -> None:
    shape = Shape(args.duration, args.connections, 2)
    one_thread = Shape(args.duration, args.connections, 1)
    got: dict[str, float] = {}
    for name, endpoint in targets.items():
        try:
            found = rps(endpoint, bench, one_thread if name.startswith("redis") else shape, args.duration)
        except NotAvailable as exc:
            print(f"  {name}: not measured ({exc})", flush=True)
            continue
        got[name] = found.rps
        print(f"  {name:<22} {found.rps:9.0f} req/s  p50 {found.p50_ms:.2f} ms  p99 {found.p99_ms:.2f} ms", flush=True)

    def ratio(a: str, b: str) -> float | None:
        return got[a] / got[b] if a in got and b in got and got[b] else None

    if "fetch" in args.parts:
        figures.add("fetch", ratio("mockmj", "bare"))
        figures.add("quiet", ratio("mockmj", "mockmj-quiet"))
        figures.add("fetch-lean", ratio("mockmj-lean", "bare-1-thread"))
    if "submit" in args.parts:
        figures.add("submit", ratio("mockmj-submit", "prism-submit"))
        figures.add("submit-lean", ratio("mockmj-submit-lean", "prism-submit"))
    if "scale" in args.parts:
        figures.add("scale", ratio("redis-2-workers", "redis-1-worker"))


def start_targets(bench: Bench, args: argparse.Namespace) -> dict[str, Endpoint]:
    targets: dict[str, Endpoint] = {}

    def add(name: str, make: Callable[[], Endpoint]) -> None:
        try:
            targets[name] = make()
        except NotAvailable as exc:
            print(f"  {name}: not started ({exc})", flush=True)

    if "fetch" in args.parts:
        add("mockmj", lambda: bench.mockmj_fetch([]))
        add("mockmj-quiet", lambda: bench.mockmj_fetch(["--quiet"]))
        add("bare", lambda: bare_granian(bench))
        add("mockmj-lean", lambda: bench.mockmj_fetch(list(LEAN)))
        add("bare-1-thread", lambda: bare_granian(bench, threads=1))
    if "submit" in args.parts:
        add("mockmj-submit", lambda: bench.mockmj_submit([]))
        add("mockmj-submit-lean", lambda: bench.mockmj_submit(list(LEAN)))
        add("prism-submit", lambda: bench.prism(args.cache, {"submit"})["submit"])  # type: ignore[return-value]
    if "scale" in args.parts:
        add("redis-1-worker", lambda: bench.mockmj_fetch(["--store", "redis:", "--workers", "1"]))
        add("redis-2-workers", lambda: bench.mockmj_fetch(["--store", "redis:", "--workers", "2"]))
    return {name: found for name, found in targets.items() if isinstance(found, Endpoint)}


# ------------------------------------------------------------------------------------ memory
MEMORY_PROBE = """
import gc, sys
sys.path.insert(0, {here!r})
from bench_limits import memory_figure
print(memory_figure({tasks}, {step}))
"""


# A manual-timing imagine takes about 10 virtual seconds on one of the account's 3 slots: moving the clock 4 s per
# submission keeps the slots busy and the queue short, as a mock under steady use is (tasks finish while new ones
# come). Moving it 1 ms instead holds all of them open at once, and memory then measures open tasks.
STEADY_STEP_MS = 4_000


def memory_figure(count: int, step_ms: int = STEADY_STEP_MS) -> float:
    """In this process: MB of RSS that `count` finished imagine tasks add, per 100,000 (as bench_hostile), the
    clock moved `step_ms` after each submission."""
    from mockmj.config import AccountConfig, Settings
    from mockmj.engine.facade import Caller, Engine
    from mockmj.engine.submissions import submit as submissions

    engine = Engine(Settings(timing="manual", seed=4, default_balance=10**12, max_tasks=10**8,
                             accounts=[AccountConfig(core_size=3, queue_size=10**8)]))
    warm = Caller(key="bench", origin="http://127.0.0.1:8080")
    for i in range(100):  # the first tasks build shared tables (recipes, outcomes): not per-task memory
        submissions.imagine(engine, warm, {"prompt": f"warm-up {i}"})
    engine.advance(10**10)
    gc.collect()
    before = proc_status("self", "VmRSS")
    for i in range(count):
        # each request brings its own copies of the key and the base URL, as over HTTP
        fresh = Caller(key="".join(("ben", "ch")), origin="".join(("http://127.0.0.1", ":8080")))
        submissions.imagine(engine, fresh, {"prompt": f"a lighthouse {i} --ar 3:2"})
        engine.advance(step_ms)
    engine.advance(10**10)  # every task finished
    submissions.imagine(engine, warm, {"prompt": "one more"})  # a submission prunes what finished tasks left
    gc.collect()
    return (proc_status("self", "VmRSS") - before) / MB * 100_000 / count


def memory_pass(args: argparse.Namespace, figures: Figures) -> None:
    for step, how in ((STEADY_STEP_MS, "under steady use"), (1, "submitted in one burst, all open at once")):
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE.format(here=str(HERE), tasks=args.memory_tasks,
                                                                            step=step)],
                              capture_output=True, text=True, timeout=3600, check=False)
        if done.returncode != 0:
            print(f"  memory: failed: {done.stderr.strip()[-300:]}", flush=True)
            figure = None
        else:
            figure = float(done.stdout.strip().splitlines()[-1])
            print(f"  memory: {figure:.0f} MB per 100,000 finished tasks ({args.memory_tasks:,} made {how})",
                  flush=True)
        if step == STEADY_STEP_MS:
            figures.add("memory", figure)


# ------------------------------------------------------------------------------------ sqlite
FILL_REAL = 1_000  # tasks submitted through the engine; the rest are copies of them with fresh ids
FILL_BATCH = 20_000  # tasks written per transaction


def fill_sqlite(path: Path, count: int) -> None:
    """A sqlite: store holding `count` finished tasks (fill_store)."""
    fill_store(f"sqlite:{path}", count)


def fill_store(store: str, count: int) -> None:
    """A shared store (`sqlite:PATH`, `redis://…`) holding `count` finished tasks: FILL_REAL real submissions,
    then copies of them with fresh ids written through the engine's own transactions (so in the store's own
    record format)."""
    from mockmj.config import AccountConfig, Settings
    from mockmj.engine.facade import Caller, Engine
    from mockmj.engine.submissions import submit as submissions

    engine = Engine(Settings(timing="manual", seed=5, store=store, max_tasks=count + FILL_REAL,
                             accounts=[AccountConfig(core_size=3, queue_size=10**8)], default_balance=10**12))
    caller = Caller(key=KEY, origin="http://127.0.0.1:8080")
    real = []
    for i in range(min(count, FILL_REAL)):
        real.append(submissions.imagine(engine, caller, {"prompt": f"a lighthouse {i} --ar 3:2"}).result)
        engine.advance(1)
    engine.advance(10**10)
    with engine.reading():
        models = [engine.world.task(task_id) for task_id in real]
    made = len(real)
    serial = 10**15
    while made < count:
        with engine.transaction():
            for _ in range(min(FILL_BATCH, count - made)):
                task = copy.copy(models[made % len(models)])
                serial += 1
                task.id = str(serial)
                engine.world.add_task(task)  # noted as changed by the world, for a shared store
                made += 1
    engine.close()


def worker_rss(proc: subprocess.Popen[bytes]) -> int:
    """RSS of the granian worker (the process that holds the store's replica), the largest of the tree."""
    return max(proc_status(pid, "VmRSS") for pid in tree(proc.pid))


def sqlite_pass(bench: Bench, stores: dict[int, Path], figures: Figures) -> None:
    rss: dict[int, int] = {}
    for tasks, path in stores.items():
        argv = bench.mockmj_argv(["--store", f"sqlite:{path}", "--workers", "1", "--quiet"])
        port = free_port()
        # max_tasks above what the store holds: the figure is of a worker serving the store, not of it evicting
        proc = bench.procs.start(f"sqlite-{tasks}", [a.replace("{port}", str(port)) for a in argv],
                                 env={"MOCKMJ_MAX_TASKS": str(2 * tasks + 10_000)})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 1800
            while True:
                with contextlib.suppress(OSError):
                    if call_http("GET", base + "/_mockmj/health", timeout=5)[0] == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise NotAvailable(bench.procs.log_tail(f"sqlite-{tasks}"))
                time.sleep(0.5)
            for _ in range(200):  # some traffic: a worker at rest after start-up is not a worker at work
                call_http("POST", base + "/mj/submit/imagine", IMAGINE_BODY)
            rss[tasks] = worker_rss(proc)
            print(f"  sqlite: {tasks:,} stored tasks: worker RSS {rss[tasks] / MB:.0f} MB", flush=True)
        except NotAvailable as exc:
            print(f"  sqlite: {tasks:,} stored tasks: not measured ({exc})", flush=True)
        finally:
            bench.procs.stop(proc)
    small, large = sorted(stores)
    figures.add("sqlite", rss[large] / rss[small] if large in rss and small in rss else None)


# ------------------------------------------------------------------------------------ start-up
def processor_time() -> float:
    """User and system time of this script's children that have ended (a server's: once it is stopped)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def help_pass(figures: Figures) -> None:
    times, cpu = [], []
    for _ in range(6):
        before = processor_time()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mockmj", "--help"], capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - started)
        cpu.append(processor_time() - before)
    figure = statistics.median(times[1:])  # the first warms the file cache
    # the processor time it used, beside the wall time: what a machine busy with other work adds is the rest
    print(f"  help: {figure:.3f} s (median of 5; {statistics.median(cpu[1:]):.3f} s of processor time; "
          f"load average {os.getloadavg()[0]:.1f})", flush=True)
    figures.add("help", figure)


def tree_cpu(pid: int) -> float:
    """Processor time (user and system) used so far by a process and its descendants, from /proc."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for member in tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
            total += (int(fields[11]) + int(fields[12])) / tick  # utime and stime
    return total


def start_once(bench: Bench) -> tuple[float, float]:
    """Seconds from starting `mockmj serve` to its first 200 on /_mockmj/health, and the processor time its
    processes (supervisor and worker) had used by then."""
    port = free_port()
    argv = [sys.executable, "-m", "mockmj", "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    proc = bench.procs.start("start", argv)
    try:
        url = f"http://127.0.0.1:{port}/_mockmj/health"
        while time.perf_counter() - started < 60:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started, tree_cpu(proc.pid)
            if proc.poll() is not None:
                break
            time.sleep(0.005)
        raise NotAvailable(bench.procs.log_tail("start"))
    finally:
        bench.procs.stop(proc)


START_RUNS = 3


def start_pass(bench: Bench, figures: Figures) -> None:
    start_once(bench)  # warms the file cache, the bytecode and the parsed openapi.yaml: the figure is of a warm start
    runs = [start_once(bench) for _ in range(START_RUNS)]
    figure = statistics.median(wall for wall, _ in runs)
    print(f"  start: {figure:.3f} s to the first 200 (median of {START_RUNS}: "
          f"{', '.join(f'{wall:.2f}' for wall, _ in runs)}; {statistics.median(cpu for _, cpu in runs):.2f} s of "
          f"processor time by then; load average {os.getloadavg()[0]:.1f})", flush=True)
    figures.add("start", figure)


# ------------------------------------------------------------------------------------ the table
def render(figures: Figures) -> str:
    width = max(map(len, figures.passes.values()), default=0)
    lines = ["| goal | target | " + " | ".join(f"pass {i + 1}" for i in range(width)) + " | spread | met |",
             "|---|---|" + "---|" * (width + 2)]
    for name, goal in GOALS.items():
        values = figures.passes.get(name)
        if not values:
            continue
        seen = [v for v in values if v is not None]
        cells = [f"{v:.2f}{goal.unit}" if v is not None else "–" for v in values]
        cells += ["–"] * (width - len(cells))
        spread = f"{min(seen):.2f}–{max(seen):.2f}" if seen else "–"
        met = sum(1 for v in seen if (v <= goal.threshold if goal.at_most else v >= goal.threshold))
        sign = "≤" if goal.at_most else "≥"
        lines.append(f"| {goal.label} | {sign} {goal.threshold:g}{goal.unit} | " + " | ".join(cells)
                     + f" | {spread} | {'yes' if seen and met == len(seen) else 'no'} ({met}/{len(seen)}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds of each wrk load (default 8)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--memory-tasks", type=int, default=100_000)
    parser.add_argument("--sqlite-small", type=int, default=1_000)
    parser.add_argument("--sqlite-large", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--cache", type=Path,
                        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mockmj-bench")
    args = parser.parse_args(argv)
    args.parts = set(args.only.split(","))
    if args.parts - set(PARTS):
        parser.error(f"--only: unknown {', '.join(sorted(args.parts - set(PARTS)))}")
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="mockmj-limits-") as tmp, contextlib.ExitStack() as stack:
        scratch = Path(tmp)
        procs = Processes(scratch)
        stack.callback(procs.stop_all)
        bench = Bench(Shape(args.duration, args.connections, 2), procs, scratch, stack)
        stores: dict[int, Path] = {}
        if "sqlite" in args.parts:
            for tasks in (args.sqlite_small, args.sqlite_large):
                started = time.perf_counter()
                stores[tasks] = scratch / f"filled-{tasks}.db"
                fill_sqlite(stores[tasks], tasks)
                print(f"filled a sqlite: store with {tasks:,} tasks in {time.perf_counter() - started:.0f} s",
                      flush=True)
        print("starting the servers…", flush=True)
        targets = start_targets(bench, args)
        for warm in targets.values():  # not counted: connection pools, caches, the first rendering
            with contextlib.suppress(NotAvailable):
                warm.load(Shape(2, args.connections, 2), 2, scratch)
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}", flush=True)
            if targets:
                throughput_pass(bench, targets, args, figures)
            if "memory" in args.parts:
                memory_pass(args, figures)
            if "sqlite" in args.parts:
                sqlite_pass(bench, stores, figures)
            if "help" in args.parts:
                help_pass(figures)
            if "start" in args.parts:
                start_pass(bench, figures)
    print()
    print(f"{os.cpu_count()} cores; load average now {os.getloadavg()[0]:.1f}")
    print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
