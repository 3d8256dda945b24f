"""Shared by the benchmark scripts: rewrite one marked section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(name: str, body: str, doc: Path = DOC) -> None:
    """Put ``body`` between ``<!-- {name} section ... -->`` and ``<!-- end {name} section -->``
    in ``doc``, replacing what was there, or append it."""
    start, end = f"<!-- {name} section", f"<!-- end {name} section -->\n"
    section = f"<!-- {name} section: written by a script in benchmarks/ -->\n{body.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if start in text:
        i = text.index(start)
        j = text.index(end, i) + len(end)
        text = text[:i] + section + text[j:]
    else:
        text = text.rstrip() + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    print(section)
