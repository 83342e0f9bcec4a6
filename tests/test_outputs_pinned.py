"""The demo workspace's outputs, byte for byte, as they were before the restructure (issue 11).

The pinned digests were taken from ``merit demo`` (seed 7, 48 agents) at the
commit before the code moved into packages; any change of behaviour, however
small, shows here.  They were re-pinned once, when the support-domain
knowledge moved from Python into ``rulesets/default.yaml`` (``panel:``,
``corrections:``, ``scorecard:``): the ruleset file's digest is printed in
``results.json`` and in every PDF's footer.  With that digest forced back to
the old file's, every output was byte-identical to the first pins.  Re-pinned a second time for
issue 13 (the reader's language): the demo writes ``language: zh-CN`` and its PDFs are in Chinese
with a new layout; its data, metrics.csv, scores.csv and lists.csv kept their pinned bytes, and
results.json changed only in the ruleset's digest (the ruleset gained its Chinese words), the
cycle.yaml digest and the English labels of seven team metrics, which no longer carry their Chinese
name in parentheses ("Capacity", was "Capacity (工作容量)"); the ruleset's digest changed once more
when it named its currency (CNY), the PDFs once more when the masthead stopped wrapping, and the ruleset's digest again when it
named its breakdowns (``breakdowns:``, the same words the PDFs already showed).  The PDFs pinned are those the
shared demo fixture renders (every fourth agent and every team, tests/conftest.py ``demo_ws``); they
are byte-identical to the same files of a full ``merit demo``.  Left out: ``.merit/`` (the history database records
times) and ``out/pdf/manifest.json``, whose per-PDF input digests include the
renderer's own source code so that a changed renderer re-renders every PDF.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PINNED = Path(__file__).parent / "fixtures" / "demo_outputs.sha256"


def test_demo_outputs_are_byte_identical_to_the_pinned_ones(demo_ws):
    pinned = dict(reversed(line.split("  ", 1)) for line in PINNED.read_text().splitlines())
    actual = {str(p.relative_to(demo_ws)): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(demo_ws.rglob("*"))
              if p.is_file() and p.relative_to(demo_ws).parts[0] not in (".merit", ".complete")
              and p.relative_to(demo_ws) != Path("out/pdf/manifest.json")}
    assert sorted(actual) == sorted(pinned)
    changed = sorted(name for name in pinned if actual[name] != pinned[name])
    assert changed == [], changed
