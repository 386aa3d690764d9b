"""The hashed locks (requirements/lock/, `make lock`) say exactly what requirements/*.txt ask for:
every pin of an input file (and of the files it layers on with -r) is in its lock at the same
version, and every locked package carries hashes, so `pip install --require-hashes` (make run,
make test, the Dockerfile, CI) installs those bytes and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def declared(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins.update(declared(path.parent / line[3:].strip()))
        elif match := _PIN.match(line):
            pins[_name(match[1])] = match[3]
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := _PIN.match(line):
            current = _name(match[1])
            entries[current] = (match[3], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


@pytest.mark.parametrize("name", ["production", "test", "bench", "deploy"])
def test_each_lock_pins_its_inputs_with_hashes(name: str) -> None:
    wanted = declared(REQUIREMENTS / f"{name}.txt")
    lock = locked(REQUIREMENTS / "lock" / f"{name}.txt")
    assert wanted, name
    drifted = {
        pkg: (version, lock.get(pkg, ("missing", 0))[0])
        for pkg, version in wanted.items()
        if lock.get(pkg, ("",))[0] != version
    }
    assert not drifted, f"requirements/{name}.txt and its lock disagree (run `make lock`): {drifted}"
    unhashed = [pkg for pkg, (_, hashes) in lock.items() if hashes == 0]
    assert not unhashed, f"locked without hashes: {unhashed}"


def test_the_image_installs_the_production_lock_only() -> None:
    dockerfile = (REQUIREMENTS.parent / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/lock/production.txt" in dockerfile
    test_lock = locked(REQUIREMENTS / "lock" / "test.txt")
    for pkg, (version, _) in locked(REQUIREMENTS / "lock" / "production.txt").items():
        assert test_lock.get(pkg, ("",))[0] == version, (
            f"{pkg}: the suite tests another version than the image runs"
        )
