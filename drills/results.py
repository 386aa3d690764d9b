"""What a drill returns (its figures, each with a target) and the sizes the drills run at: shared
by every drill module (scenarios.py, pitr.py), the report and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Size:
    name: str
    threads: int  # concurrent drill users
    phase: float  # seconds of load before, during and after a fault
    lag_cycles: int  # write -> read cycles with replay paused
    worker_kills: int  # SIGKILLed gunicorn workers during pushes
    push_attempts: int  # push requests sent (first tries and retries) with random drops
    archive_timeout: int  # PITR drill: seconds after which PostgreSQL archives a segment anyway
    ballast_mb: int  # PITR drill: MB of data in the database beside the app's rows


SIZES = {
    "full": Size(
        "full",
        threads=4,
        phase=10.0,
        lag_cycles=1000,
        worker_kills=12,
        push_attempts=10_000,
        archive_timeout=60,
        ballast_mb=256,
    ),
    "quick": Size(
        "quick",
        threads=3,
        phase=4.0,
        lag_cycles=300,
        worker_kills=5,
        push_attempts=1500,
        archive_timeout=10,
        ballast_mb=64,
    ),
    "test": Size(
        "test",
        threads=2,
        phase=2.0,
        lag_cycles=60,
        worker_kills=3,
        push_attempts=200,
        archive_timeout=5,
        ballast_mb=8,
    ),
}


@dataclass
class Figure:
    name: str
    value: float
    target: str
    ok: bool

    def shown(self) -> str:
        if isinstance(self.value, float) and not self.value.is_integer():
            return f"{self.value:.2f}"
        return f"{int(self.value):,}"


@dataclass
class DrillResult:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.figures)

    def zero(self, name: str, value: float) -> None:
        self.figures.append(Figure(name, value, "0", value == 0))

    def at_most(self, name: str, value: float, bound: float) -> None:
        self.figures.append(Figure(name, value, f"≤ {bound:g}", value <= bound))
