"""The drill table: printed, and written into docs/reliability.md between markers (one block per
size, so a QUICK run does not overwrite the full run's figures)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from .results import DrillResult, Size

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


def table(results: list[DrillResult]) -> str:
    lines = ["| Drill | Figure | Target | Measured | Met |", "|---|---|---|---|---|"]
    for result in results:
        for figure in result.figures:
            lines.append(
                f"| {result.title} | {figure.name} | {figure.target} | {figure.shown()} | "
                f"{'yes' if figure.ok else '**NO**'} |"
            )
    return "\n".join(lines)


def notes(results: list[DrillResult]) -> str:
    out = []
    for result in results:
        out.append(f"- **{result.title}** ({result.seconds:.0f} s): " + "; ".join(result.notes))
    return "\n".join(out)


def block(results: list[DrillResult], size: Size, total_seconds: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "every figure met its target" if all(r.ok for r in results) else "SOME FIGURES MISSED"
    return (
        f"Run: `make drills{' QUICK=1' if size.name == 'quick' else ''}` on {stamp}, "
        f"{total_seconds:.0f} s, {size.threads} concurrent users per drill — {verdict}.\n\n"
        f"{table(results)}\n\nWhat each run did:\n\n{notes(results)}\n"
    )


def write_doc(results: list[DrillResult], size: Size, total_seconds: float, path: Path = DOC) -> None:
    begin, end = f"<!-- drills:{size.name}:begin -->", f"<!-- drills:{size.name}:end -->"
    text = path.read_text() if path.exists() else ""
    content = f"{begin}\n{block(results, size, total_seconds)}{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: content, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n{content}\n"
    path.write_text(text)
