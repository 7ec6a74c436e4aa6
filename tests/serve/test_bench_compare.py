"""The pure parts of benchmarks/bench_compare.py (reading wrk's output, the goal ratios, the options), so
that the comparative benchmark cannot rot unseen. Nothing here is timed: the harness prints figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from mockmj.serve.inprocess import start_mock

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_compare.py"
_spec = importlib.util.spec_from_file_location("bench_compare", _PATH)
assert _spec is not None and _spec.loader is not None
bc = importlib.util.module_from_spec(_spec)
sys.modules["bench_compare"] = bc  # dataclasses look their module up while the class is made
_spec.loader.exec_module(bc)

# as printed by wrk 4.1 (Debian) against mockmj serve on the development machine
WRK_FETCH = """\
Running 3s test @ http://127.0.0.1:38017/mj/task/1817200000018723/fetch
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    37.91ms   31.71ms 254.25ms   85.44%
    Req/Sec   484.53    260.06     1.03k    61.67%
  Latency Distribution
     50%   26.85ms
     75%   43.11ms
     90%   80.69ms
     99%  156.32ms
  2952 requests in 3.09s, 5.70MB read
Requests/sec:    954.00
Transfer/sec:      1.84MB
"""

# a fast target with refusals and socket errors, latencies in µs and in seconds
WRK_ERRORS = """\
Running 10s test @ http://127.0.0.1:4010/mj/submit/imagine
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.40us  300.10us   1.20s    91.00%
    Req/Sec    19.50k     1.10k   21.00k    70.00%
  Latency Distribution
     50%  750.33us
     75%  900.00us
     90%    1.10ms
     99%    1.20s
  389012 requests in 10.00s, 80.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 17
Requests/sec:  38901.20
Transfer/sec:      8.01MB
"""


def load(rps: float, p50: float = 1.0, non_2xx: int = 0) -> object:
    return bc.Load(requests=1000, seconds=10.0, rps=rps, p50_ms=p50, p99_ms=p50 * 3, non_2xx=non_2xx)


# ------------------------------------------------------------------------------------- wrk output
def test_parse_wrk_reads_every_figure() -> None:
    found = bc.parse_wrk(WRK_FETCH)
    assert found == bc.Load(requests=2952, seconds=3.09, rps=954.0, p50_ms=26.85, p99_ms=156.32,
                            non_2xx=0, socket_errors=0)


def test_parse_wrk_converts_units_and_counts_errors() -> None:
    found = bc.parse_wrk(WRK_ERRORS)
    assert found.p50_ms == pytest.approx(0.75033)
    assert found.p99_ms == pytest.approx(1200.0)
    assert (found.requests, found.rps, found.non_2xx, found.socket_errors) == (389012, 38901.2, 17, 5)


def test_parse_wrk_refuses_output_without_a_figure() -> None:
    truncated = WRK_FETCH.replace("Requests/sec:    954.00\n", "")
    with pytest.raises(ValueError, match="Requests/sec"):
        bc.parse_wrk(truncated)
    with pytest.raises(ValueError, match="not a wrk duration"):
        bc.duration_ms("12 parsecs")
    assert bc.duration_ms("2.00m") == 120_000.0


def test_wrk_script_sends_the_body_and_rotates_paths() -> None:
    assert bc.wrk_script() == "\n"  # a plain GET: wrk's prepared request, no Lua per request
    script = bc.wrk_script("POST", '{"prompt":"a fox"}', ["/mj/task/1/fetch", "/mj/task/2/fetch"])
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = "{\\"prompt\\":\\"a fox\\"}"' in script
    assert 'local paths = {"/mj/task/1/fetch","/mj/task/2/fetch"}' in script
    assert "paths[n % #paths + 1]" in script


# ------------------------------------------------------------------------------------- goals
def test_goals_compare_within_one_run() -> None:
    results = {
        "fetch": {bc.MOCKMJ: load(3000), bc.PRISM: load(1000), bc.HELLO_ON_MOCKMJ_SERVER: load(6000)},
        "submit": {bc.MOCKMJ: load(1400), bc.PRISM: load(1000)},
        "scale": {bc.scale_name(1000): load(500, p50=2.0), bc.scale_name(10**6): load(480, p50=2.6)},
    }
    verdicts = {v.goal.label: v for v in (bc.judge(g, results) for g in bc.goals(10**6, 1000))}
    fetch_prism = verdicts["fetch ≥ 3× Prism"]
    assert (fetch_prism.ratio, fetch_prism.met) == (3.0, True)  # the threshold itself is met
    hello = verdicts["fetch ≥ 0.6× Flask hello on the same server"]
    assert (hello.ratio, hello.met) == (0.5, False)
    submit = verdicts["submit ≥ 1.5× Prism"]
    assert (submit.ratio, submit.met) == (1.4, False)
    scale = verdicts["fetch p50 at 1,000,000 tasks ≤ 1.2× at 1,000"]
    assert scale.ratio == pytest.approx(1.3) and scale.met is False  # a latency: lower is better


def test_a_goal_is_not_judged_on_a_missing_or_invalid_figure() -> None:
    goal = bc.goals(10**6, 1000)[0]  # fetch vs Prism
    missing = bc.judge(goal, {"fetch": {bc.MOCKMJ: load(3000), bc.PRISM: "not measured: npm is not installed"}})
    assert (missing.ratio, missing.met) == (None, None)
    assert "npm is not installed" in missing.why
    refused = bc.judge(goal, {"fetch": {bc.MOCKMJ: load(3000, non_2xx=5), bc.PRISM: load(100)}})
    assert refused.met is None and "5 non-2xx" in refused.why
    table = bc.render_verdicts([missing, bc.judge(goal, {"fetch": {bc.MOCKMJ: load(900), bc.PRISM: load(100)}})])
    assert "not judged (prism: not measured: npm is not installed)" in table
    assert "| fetch ≥ 3× Prism | 9.00× | **met** |" in table


def test_table_marks_invalid_rows_and_reasons() -> None:
    results = {"fetch": {bc.MOCKMJ: load(2500, non_2xx=3), "mockmj serve --workers 2": "not available yet"}}
    table = bc.render_table(results, bc.TARGETS)
    assert ("| fetch | mockmj serve (defaults) | 2,500 | 1.00 ms | 3.00 ms "
            "| INVALID: 3 of 1000 not 2xx or refused |") in table
    assert "| fetch | mockmj serve --workers 2 | – | – | – | not available yet |" in table


def test_unknown_option_of_serve_reads_not_available_yet() -> None:
    # as click 8 says it
    said = bc.unavailable_option("not measured: exited with 2: Usage: python -m mockmj serve [OPTIONS] / "
                                 "Error: No such option '--store'. (Did you mean one of: '--seed'?)")
    assert said == "not available yet (mockmj serve has no --store option)"
    said = bc.unavailable_option("not measured: exited with 2: Error: No such option: --workers")
    assert said == "not available yet (mockmj serve has no --workers option)"
    assert bc.unavailable_option("not measured: wrk failed") == "not measured: wrk failed"


def test_rounds_combine_into_one_figure() -> None:
    rounds = [bc.Load(1000, 5.0, 200.0, 10.0, 50.0), bc.Load(3000, 5.0, 600.0, 4.0, 30.0, non_2xx=2),
              bc.Load(2000, 5.0, 400.0, 6.0, 90.0, socket_errors=1)]
    found = bc.combine(rounds)
    assert found == bc.Load(6000, 15.0, 400.0, 6.0, 50.0, non_2xx=2, socket_errors=1)
    assert bc.combine(rounds[:2]).p50_ms == 7.0  # an even count: the mean of the middle two
    with pytest.raises(ValueError):
        bc.combine([])


def test_submissions_the_server_did_not_accept_make_the_run_invalid() -> None:
    found = bc.Load(1000, 10.0, 100.0, 5.0, 9.0)
    assert bc.refusals_counted(found, 1003) == found  # in flight when wrk stopped: accepted, not read
    assert bc.refusals_counted(found, 990).non_2xx == 10


# ------------------------------------------------------------------------------------- options
def test_only_selects_targets_and_measures() -> None:
    assert bc.parse_only(None) == (set(bc.TARGETS), set(bc.MEASURES))
    assert bc.parse_only("prism, fetch") == ({bc.PRISM}, {"fetch"})
    assert bc.parse_only("scale") == (set(bc.TARGETS), {"scale"})
    with pytest.raises(ValueError, match="unknown wrk"):
        bc.parse_only("mockmj,wrk")


def test_store_and_workers_make_variants() -> None:
    assert bc.variant_args([], []) == []
    assert bc.variant_args(["sqlite:"], []) == [["--store", "sqlite:"]]
    assert bc.variant_args(["sqlite:", "redis://127.0.0.1:6379/0"], [2]) == [
        ["--store", "sqlite:", "--workers", "2"], ["--store", "redis://127.0.0.1:6379/0", "--workers", "2"]]
    assert bc.variant_args([], [1, 2]) == [["--workers", "1"], ["--workers", "2"]]


def test_python_fallback_load_counts_answers() -> None:
    """The load generator used where wrk is missing, against a real mock on loopback (strict mode)."""
    with start_mock(timing="fast", strict=True) as server:
        found = bc.python_load(server.base_url + "/_mockmj/health", bc.Shape(1, 2, 1), 1, "GET", None, None)
        missing = bc.python_load(server.base_url + "/nowhere", bc.Shape(1, 1, 1), 1, "GET", None, None)
    assert found.requests > 0 and found.non_2xx == 0 and found.p50_ms <= found.p99_ms
    assert missing.requests > 0 and missing.non_2xx == missing.requests
