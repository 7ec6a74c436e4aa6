"""`mockmj serve` on granian (a Rust HTTP server, WSGI interface) with N worker processes, each building
the same app from the settings `serve` resolved once (see `worker_app`)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from mockmj.config import Settings
from mockmj.serve.inprocess import release
from mockmj.web.app import create_app
from mockmj.web.delays import serving_threads

WsgiApp = Callable[..., Any]

server_log = logging.getLogger("mockmj.server")


GRANIAN_TARGET = "mockmj.serve.granian:worker_app"  # what granian names in its messages; the loader is given directly
# A worker that has not stopped this long after SIGTERM is killed: `serve` always ends.
WORKER_KILL_TIMEOUT_S = 10
READY_POLL_S = 0.005  # how often the supervisor looks whether a worker accepts yet: a refused connect costs ~0.1 ms
ANNOUNCE_WAIT_S = 10
# granian's advice against more Python threads than 2 × cores + 1. `--threads` is mockmj's own setting (8 by
# default, measured no slower than 1 to 4 on two cores), so the advice would be printed at every start.
THREADS_ADVICE = "Configuration allows spawning up to"

_worker_apps: list[Any] = []  # the apps built in this (worker) process, released when it stops


def preload() -> None:
    """Load in the supervisor, before the workers are forked, what each would otherwise load alike: the app's
    modules (imported with this one) and the parsed OpenAPI documents (cached per process). A forked worker
    inherits them, so it only builds its app; a spawned one (no fork on the platform) loads them itself."""
    from mockmj.web.spec import load_spec

    load_spec()
    load_spec("control-openapi.yaml")


def worker_app(settings: Settings, announced: Any = None,
               build: Callable[[Settings], WsgiApp] = create_app) -> WsgiApp:
    """The app of one granian worker process, built from the settings `mockmj serve` resolved and checked:
    every worker gets the very same Settings object (inherited when forked, pickled when spawned), so no
    worker reads the command line, the environment or the config file again. `announced`: the event the
    supervisor sets once the start-up line is out (a multiprocessing.Event); `build`: what makes the app from
    the settings (a module-level function, so that a spawned worker can unpickle it)."""
    from mockmj.web.logs import configure_logging, defer_access_log

    configure_logging(settings)  # granian configured its own loggers in this process; ours go on stderr
    defer_access_log()  # access lines formatted and written by a thread of their own, off the request path
    _stop_when_orphaned()
    app = build(settings)
    _worker_apps.append(app)
    return app if announced is None else AfterAnnouncement(app, announced)


class AfterAnnouncement:
    """Answers nothing before the supervisor has printed the start-up line. It prints it as soon as a
    connection to the port succeeds, but a client polling /_mockmj/health can still be answered first; with
    this, the start-up line comes before any answer (as when one process bound, printed, then served)."""

    def __init__(self, app: WsgiApp, announced: Any) -> None:
        self.app = app
        self._announced = announced
        self._open = False  # a plain attribute once open: one check per request

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not self._open:
            self._announced.wait(ANNOUNCE_WAIT_S)  # bounded: a supervisor that never announces blocks nothing
            self._open = True
        return self.app(environ, start_response)


def _stop_when_orphaned() -> None:
    """Stop this worker when the `serve` process is gone. granian's supervisor stops its workers on SIGINT and
    SIGTERM, but a SIGKILL (a test's process.kill(), the OOM killer) would leave them serving the port for
    ever. The parent's sentinel (multiprocessing.parent_process()) becomes readable when it dies."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os.kill(os.getpid(), signal.SIGTERM)  # relayed to granian's handler, which stops this worker cleanly…
        time.sleep(WORKER_KILL_TIMEOUT_S)
        os._exit(1)  # …unless the signal came before granian had set its handler

    threading.Thread(target=watch, name="mockmj-orphan-watch", daemon=True).start()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def relay_stop_signals(ignore: tuple[signal.Signals, ...] = ()) -> None:
    """Have one thread take SIGINT and SIGTERM and call the handler installed for them (granian's), but for the
    signals in `ignore`, which are taken and dropped.

    granian's supervisor and workers wait for a stop in their main thread, in a threading.Event.wait() that
    only a signal delivered to that very thread interrupts. The kernel may deliver it to any thread (tokio's,
    the mock's callback threads); Python then notes it and never wakes the wait: measured, 8 of 25 workers
    sent SIGINT then SIGTERM (what a terminal's Ctrl-C and the supervisor do) hung until killed. So the
    calling thread blocks both signals (threads inherit that from the thread that starts them, so every
    later thread does) and a relay thread receives them with sigwait()."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: granian runs one worker there anyway
        return
    inherited = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def relay() -> None:
        while True:
            signum = signal.sigwait(STOP_SIGNALS)
            if signum in ignore:
                continue
            # Too early (granian has not set its handler yet: a worker still building its app): the stop waits
            # for it, rather than being lost to the handler this process inherited.
            while (handler := signal.getsignal(signum)) is inherited[signum]:
                time.sleep(READY_POLL_S)
            if callable(handler):
                handler(signum, None)

    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    threading.Thread(target=relay, name="mockmj-stop-signals", daemon=True).start()


def _granian_worker(*args: Any) -> None:
    """One worker process: granian's own WSGI worker, then the mock's shutdown (its callback sender), which
    granian knows nothing about. A module-level function, so that a spawned worker can unpickle it."""
    from granian.server import Server

    from mockmj.web.logs import stop_access_log

    if multiprocessing.parent_process() is not None:  # a worker process (not a thread of a free-threaded build)
        # First: every thread of this process is started after it. A worker stops when its supervisor tells it
        # (SIGTERM), never on a SIGINT of its own: a terminal's Ctrl-C reaches the whole process group, and a
        # worker that stopped before the supervisor had taken its own SIGINT was an "Unexpected exit" to granian,
        # which logged it and set about respawning it. The supervisor takes the SIGINT and stops every worker.
        relay_stop_signals(ignore=(signal.SIGINT,))
    try:
        Server._spawn_wsgi_worker(*args)
    finally:
        while _worker_apps:
            release(_worker_apps.pop())
        stop_access_log()  # every line of a request answered is written before the worker ends


class HeldLogs(logging.Filter):
    """Holds granian's own records back until the start-up line is out, then lets them through in order:
    log-based readiness waits (and people) read the start-up line first, the warnings after it. Drops the
    advice on threads (THREADS_ADVICE)."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[logging.LogRecord] = []
        self._open = False
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(THREADS_ADVICE):
            return False
        with self._lock:
            if not self._open:
                self._held.append(record)
                return False
        return True

    def release(self) -> None:
        with self._lock:
            self._open = True
            held, self._held = self._held, []
        for record in held:
            logging.getLogger(record.name).handle(record)


def listen_address(host: str, port: int) -> str:
    """The IP address granian binds for `host` (it takes no names such as localhost)."""
    return str(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0])


def check_port(address: str, port: int) -> None:
    """OSError when `address:port` is taken. granian binds in each worker with SO_REUSEPORT, which another
    `mockmj serve` of the same user would share silently; this probe has no SO_REUSEPORT, so it does not."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as granian: TIME_WAIT leftovers don't count
        probe.bind((address, port))


def _reachable(address: str) -> str:
    """Where to connect to see whether a listener on `address` accepts (the loopback for a wildcard)."""
    ip = ipaddress.ip_address(address)
    if ip.is_unspecified:
        return "::1" if ip.version == 6 else "127.0.0.1"
    return address


def serve_granian(settings: Settings, on_listening: Callable[[], None],
                  build: Callable[[Settings], WsgiApp] = create_app) -> None:
    """Serve `settings` on granian until SIGINT or SIGTERM; `on_listening` is called once, in this process,
    when a worker accepts connections. OSError before anything starts when the port is taken."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    from mockmj.web.logs import configure_logging, notice

    address = listen_address(settings.host, settings.port)
    check_port(address, settings.port)
    held = HeldLogs()
    announced = multiprocessing.Event()  # set once the start-up line is out; the workers answer after it

    class MockGranian(Server):  # type: ignore[misc, valid-type]
        """granian's supervisor, which also says when the mock is reachable and when it stops."""

        def startup(self, spawn_target: Any, target_loader: Any) -> None:
            super().startup(spawn_target, target_loader)  # the workers are forked (or spawned) here
            # Announce only once a worker accepts: a client that waits for the start-up line may connect at once.
            probe = (_reachable(address), settings.port)
            while not self.main_loop_interrupt.is_set():  # a signal, or a worker that died while starting
                try:
                    socket.create_connection(probe, timeout=1).close()
                except OSError:
                    time.sleep(READY_POLL_S)
                    continue
                on_listening()
                break
            announced.set()  # also when stopped before: requests held meanwhile are answered (or refused)
            held.release()

        def shutdown(self, exit_code: int = 0) -> None:
            held.release()  # a worker that failed to start says why
            if self.interrupt_signal:
                # Ctrl-C reaches the workers too (one process group): one that stopped on it before this
                # process stopped it is no failure, and must not turn a clean stop into exit status 1.
                self.interrupt_children.clear()
            super().shutdown(exit_code)

        def _stop_workers(self) -> None:
            super()._stop_workers()
            if self.interrupt_signal:
                # printed once the workers are gone, so after the access lines they wrote while stopping: the
                # last line of a clean stop
                notice(settings, "mockmj: stopping")

    server = MockGranian(
        GRANIAN_TARGET,
        address=address,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        # Python threads per worker running the app, plus room for requests that sleep a simulated delay
        blocking_threads=serving_threads(settings),
        http=HTTPModes.http1,  # the proxies the mock stands for speak HTTP/1.1
        websockets=False,
        log_level=LogLevels.warning,
        # granian's records go through mockmj's handlers (text or JSON lines on stderr), not to stdout
        log_dictconfig={"loggers": {"_granian": {"handlers": [], "propagate": True},
                                    "granian.access": {"handlers": [], "propagate": True}}},
        workers_kill_timeout=WORKER_KILL_TIMEOUT_S,
        # a worker that dies (kill -9, the OOM killer, a crash in a native library) is started again while the
        # others go on answering; granian gives up (and stops) only on a crash loop, a worker dying again
        # within seconds of its respawn. With a shared store nothing acknowledged is lost with it.
        respawn_failed_workers=True,
    )
    configure_logging(settings)  # granian's dictConfig closed the handlers mockmj had installed
    logging.getLogger("_granian").addFilter(held)
    relay_stop_signals()
    server.serve(spawn_target=_granian_worker, target_loader=functools.partial(worker_app, settings, announced, build),
                 wrap_loader=False)


__all__ = ["preload", "serve_granian", "worker_app"]
