"""The fan-out benchmark at a tiny size, against ours and the bare floor: every targeted change
and every broadcast reaches exactly its subscribers, and another user's generation is refused.
Correctness only: timings on a shared machine are the benchmark's to report, not a test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "subscription_fanout.py"


def test_both_servers_deliver_every_change_to_its_subscribers_only(tmp_path: Path) -> None:
    figures = tmp_path / "fanout.json"
    command = [
        sys.executable, str(BENCH), "--subscribers", "20", "--users", "4", "--generations", "3",
        "--rate", "40", "--seconds", "1", "--soak", "0", "--broadcasts", "1", "--parallel", "10",
        "--json", str(figures),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr

    results = json.loads(figures.read_text())
    assert {(r["server"], r["shape"]) for r in results} == {
        (server, shape) for server in ("ours", "floor") for shape in ("shared", "realistic")
    }
    for r in results:
        phase = r["targeted"]
        assert phase["received"] == phase["expected"] > 0, r
        assert phase["wrong"] == 0, r
        assert r["closed_by_server"] == 0, r
        assert r["broadcast_missing"] == 0 and len(r["broadcast_ms"]) == 1, r
        assert r["probe_leaked"] is (False if r["shape"] == "realistic" else None), r
