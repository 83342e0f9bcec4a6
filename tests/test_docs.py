"""The documentation stands alone: every link in README and docs/ points into the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _targets(doc: Path) -> list[str]:
    return [t for t in LINK.findall(doc.read_text(encoding="utf-8")) if not t.startswith(("http://", "https://", "#"))]


def test_every_relative_link_resolves_to_a_file_of_the_repository():
    broken = [f"{doc.relative_to(ROOT)} -> {target}" for doc in DOCS for target in _targets(doc)
              if not (doc.parent / target.split("#")[0]).resolve().exists()
              or ROOT not in (doc.parent / target.split("#")[0]).resolve().parents]
    assert broken == []


def test_no_document_points_outside_the_repository():
    # the product's original specification stays with its authors; the repository carries its own contract
    files = DOCS + sorted(ROOT.glob("[ecrtb]*/**/*.py")) + sorted(ROOT.glob("rulesets/*.yaml")) \
        + sorted(ROOT.glob("tests/fixtures/*/*.md")) + [ROOT / "benchmarks" / "README.md"]
    mentions = [str(p.relative_to(ROOT)) for p in files if p != Path(__file__)
                and re.search(r"\bSPEC\b|\.\./shared", p.read_text(encoding="utf-8"))]
    assert mentions == []


def test_the_link_check_finds_a_broken_link(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("see [the spec](../SPEC.md) and [web](https://example.org)")
    assert _targets(doc) == ["../SPEC.md"]
