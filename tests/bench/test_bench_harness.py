"""wrk's report read into numbers, whatever unit each latency is printed in."""

from __future__ import annotations

import importlib

# wrk pads latencies printed in seconds with a space: the 90% line keeps it.
REPORT = """Running 3s test @ http://127.0.0.1:35657/graphql
  1 threads and 32 connections
  Latency Distribution
     50%  457.82ms
     75%  577.81ms
     90%    1.18s 
     99%  850.00us
  144 requests in 3.11s, 2.93MB read
  Socket errors: connect 0, read 0, write 0, timeout 2
Requests/sec:     46.28
Transfer/sec:      0.94MB
"""


def test_wrk_report_is_read_in_milliseconds() -> None:
    wrk = importlib.import_module("harness")._parse_wrk(REPORT)
    assert (wrk.rate, wrk.requests) == (46.28, 144)
    assert (wrk.p50_ms, wrk.p90_ms, wrk.p99_ms) == (457.82, 1180.0, 0.85)
    assert wrk.socket_errors == "Socket errors: connect 0, read 0, write 0, timeout 2"
