"""Steady load for the drills: one thread per drill user, each looping over a step until told to
stop; every reply kept with its start time, so a drill can cut the run into phases
(before / during / after a fault) afterwards."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .client import Reply, User


@dataclass
class Sample:
    label: str
    reply: Reply

    @property
    def started(self) -> float:
        return self.reply.started

    @property
    def ended(self) -> float:
        return self.reply.started + self.reply.elapsed


@dataclass
class Load:
    steps: list[Callable[[random.Random], tuple[str, Reply]]]
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _run(self, index: int, step: Callable[[random.Random], tuple[str, Reply]]) -> None:
        rng = random.Random(index)
        while not self._stop.is_set():
            try:
                label, reply = step(rng)
            except Exception as exc:  # a bug in the drill itself: report it, do not hide it
                self.errors.append(repr(exc))
                time.sleep(0.05)
                continue
            self.samples.append(Sample(label, reply))  # list.append is atomic under the GIL
            if reply.kind in ("refused", "cut"):
                time.sleep(0.02)  # a client backs off a little when the server is gone

    def start(self) -> Load:
        for index, step in enumerate(self.steps):
            thread = threading.Thread(target=self._run, args=(index, step), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.samples

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.started and s.ended <= end]


class Mixed:
    """A person using the app: lists and reads tasks and notes, pulls the feed, and (a writer)
    creates notes and renames tasks. Readers never write, so their reads go to the replica."""

    def __init__(self, user: User, *, writer: bool) -> None:
        self.user = user
        self.writer = writer
        reply = user.call("POST", "/v1/todos/lists", {"name": "Drill list"})
        if reply.status != 201:
            raise RuntimeError(f"list create: {reply.status} {reply.body[:200]!r}")
        self.list_id = reply.json()["id"]
        self.tasks = []
        for number in range(3):
            task = user.call("POST", "/v1/todos", {"list": self.list_id, "title": f"task {number}"})
            if task.status != 201:
                raise RuntimeError(f"task create: {task.status} {task.body[:200]!r}")
            self.tasks.append(task.json()["id"])

    def step(self, rng: random.Random) -> tuple[str, Reply]:
        roll = rng.random()
        if not self.writer or roll < 0.7:
            pick = rng.random()
            if pick < 0.45:
                return "list tasks", self.user.call("GET", "/v1/todos?limit=20")
            if pick < 0.65:
                return "list notes", self.user.call("GET", "/v1/notes?limit=20")
            if pick < 0.85:
                return "pull feed", self.user.call("GET", "/v1/sync/changes?limit=50")
            return "get task", self.user.call("GET", f"/v1/todos/{rng.choice(self.tasks)}")
        if roll < 0.85:
            return "create note", self.user.call(
                "POST", "/v1/notes", {"title": f"note {uuid.uuid4().hex[:8]}", "body": "drill " * 20}
            )
        return "rename task", self.user.call(
            "PATCH", f"/v1/todos/{rng.choice(self.tasks)}", {"title": f"renamed {uuid.uuid4().hex[:8]}"}
        )
