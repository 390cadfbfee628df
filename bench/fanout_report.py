"""The fan-out benchmark's figures, and the targets of issue 13 that compare ours to the floor."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from harness import percentile

FLAT = 1.05  # memory is flat when it grew at most 5 % from the latency phase's end to the soak's


@dataclass(frozen=True)
class Phase:
    """Targeted deliveries at a steady rate: what was offered, achieved, received, and paid."""

    offered: float  # deliveries a second
    achieved: float  # deliveries a second the committer reached
    commits: int
    batch: int  # generations changed per commit
    expected: int
    received: int  # distinct (subscriber, event) receipts of this phase's events
    repeats: int
    wrong: int  # another generation's data, or an error, reaching a subscriber
    latencies_ms: list[float]
    cpu_us: float  # server CPU per delivery
    postgres_us: float
    client_share: float  # of one core, while the phase ran


@dataclass(frozen=True)
class Result:
    server: str
    shape: str
    subscribers: int
    parallel: int
    connect_seconds: float
    connect_client_share: float  # of one core, while connecting
    setups_ms: list[float]
    rss_kib: dict[str, int]  # idle, connected, targeted (after the phase), soaked
    targeted: Phase
    deliveries: int  # by the end of the soak, the targeted phase's included
    broadcast_ms: list[float]  # commit -> the last subscriber's receipt, per broadcast
    broadcast_missing: int
    probe_leaked: bool | None  # None: one user, nothing foreign to probe
    closed_by_server: int  # subscribers' connections the server closed during the run

    @property
    def connect_rate(self) -> float:
        return self.subscribers / self.connect_seconds

    @property
    def kib_per_subscriber(self) -> float:
        return (self.rss_kib["connected"] - self.rss_kib["idle"]) / self.subscribers

    @property
    def flat(self) -> bool:
        return self.rss_kib["soaked"] <= self.rss_kib["targeted"] * FLAT


def summary(ms: list[float]) -> str:
    ms = [m for m in ms if not math.isnan(m)]  # NaN: a broadcast that reached nobody
    if not ms:
        return "no samples"
    return (
        f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms (n={len(ms)})"
    )


def describe(r: Result) -> str:
    t, rss = r.targeted, r.rss_kib
    probe = {None: "n/a (one user)", False: "refused", True: "LEAKED"}[r.probe_leaked]
    return "\n".join(
        [
            f"{r.server}, {r.shape}, {r.subscribers} subscribers:",
            f"  connect: {r.connect_seconds:.1f} s = {r.connect_rate:.0f}/s ({r.parallel} at a "
            f"time; the client used {r.connect_client_share:.0%} of a core); set-up per "
            f"connection {summary(r.setups_ms)}",
            f"  RSS: idle {rss['idle'] / 1024:.0f} MiB, connected {rss['connected'] / 1024:.0f} "
            f"MiB = {r.kib_per_subscriber:.1f} KiB a subscriber; after the latency phase "
            f"{rss['targeted'] / 1024:.0f} MiB, after {r.deliveries} deliveries "
            f"{rss['soaked'] / 1024:.0f} MiB ({'flat' if r.flat else 'GROWING'})",
            f"  targeted: offered {t.offered:.0f}/s, achieved {t.achieved:.0f}/s ({t.commits} "
            f"commits of {t.batch}); {t.received} of {t.expected} arrived ({t.repeats} repeats, "
            f"{t.wrong} wrong); commit -> receipt {summary(t.latencies_ms)}",
            f"  CPU per delivery: server {t.cpu_us:.0f} us, Postgres {t.postgres_us:.0f} us; "
            f"client used {t.client_share:.0%} of a core",
            f"  broadcast to all: last receipt {summary(r.broadcast_ms)}, "
            f"{r.broadcast_missing} missing",
            f"  another user's generation: {probe}; connections closed by the server: "
            f"{r.closed_by_server}",
        ]
    )


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def ratio(ours: float, floor: float) -> float:
    # Tiny runs can measure no CPU at all (the kernel counts in 10 ms ticks).
    return ours / floor if floor > 0 else float("inf")


def compare(ours: Result, floor: Result) -> str:
    """Ours against the floor, and against the absolute targets, for one shape."""
    cpu = ratio(ours.targeted.cpu_us, floor.targeted.cpu_us)
    memory = ratio(ours.kib_per_subscriber, floor.kib_per_subscriber)
    p99 = percentile(ours.targeted.latencies_ms, 99) if ours.targeted.latencies_ms else 1e9
    reached = [ms for ms in ours.broadcast_ms if not math.isnan(ms)]
    broadcast = statistics.median(reached) if reached and not ours.broadcast_missing else 1e9
    rows: list[tuple[str, str, bool]] = [
        (f"CPU per delivery {cpu:.2f}x the floor", "<= 1.5x", cpu <= 1.5),
        (f"memory per subscriber {memory:.2f}x the floor", "<= 1.2x", memory <= 1.2),
        (f"p99 {p99:.0f} ms", "<= 250 ms", p99 <= 250),
        (f"broadcast to all, median {broadcast:.0f} ms", "<= 1000 ms", broadcast <= 1000),
        (f"connect {ours.connect_rate:.0f}/s", ">= 1000/s", ours.connect_rate >= 1000),
        ("memory over the soak", "flat", ours.flat),
    ]
    lines = [f"{ours.shape}: ours / floor and targets"]
    lines += [f"  {what}: {verdict(ok)} (target {target})" for what, target, ok in rows]
    return "\n".join(lines)
