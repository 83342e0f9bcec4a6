"""docs/contract.md is the contract's reference, generated from engine/core/contract.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from merit.core.contract import contract, contract_markdown, load_contract
from merit.core.errors import MeritError, ProblemList

DOC = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


def test_the_committed_reference_is_current():
    # Regenerate with: python -c "from merit.core.contract import contract_markdown as m; \
    #   open('docs/contract.md', 'w', encoding='utf-8').write(m())"
    assert DOC.read_text(encoding="utf-8") == contract_markdown()


def test_the_reference_names_every_table_and_column():
    text = contract_markdown()
    for name, table in contract().tables.items():
        assert f"\n## {name}\n" in text and table.description in text
        for col in table.columns:
            assert f"| `{col.name}` |" in text
    # only a table's key, attribution and period, the never-empty columns and the agents' name
    # and team must be in the file: every other column may be absent
    assert "| `rating` | category (`enum`) | no | one of good, neutral, bad |" in text
    assert "| `assignee` | text (`string`) | yes |" in text
    assert "| `name` | text (`string`) | yes |" in text and "| `level` | text (`string`) | no |" in text
    assert "| `agent_id` | text (`string`) | no |" in text  # surveys.agent_id: optional by its own flag
    assert "| `cost_per_month` | number (`float`) | no | at least 0 |" in text
    assert "| each id in [`agents.agent_id`](#agents) |" in text
    assert "| `created_at` | timestamp | yes, never empty |" in text


def test_a_broken_contract_is_refused_with_its_lines(tmp_path):
    path = tmp_path / "contract.yaml"
    path.write_text(
        "tables:\n"
        "  agents:\n"
        "    description: people\n"
        "    key: id\n"
        "    columns:\n"
        "      agent_id: {type: text, description: the id}\n"
        "      team: {type: string, allowed: [a, b], description: the team}\n"
        "      boss: {type: string, references: people.agent_id, description: the boss}\n",
        encoding="utf-8")
    with pytest.raises((MeritError, ProblemList)) as caught:
        load_contract(path, "contract.yaml")
    problems = getattr(caught.value, "problems", [caught.value])
    assert [(p.line, p.field) for p in problems] == [(6, "tables.agents.columns.agent_id.type")]
    path.write_text(path.read_text().replace("type: text", "type: string"))
    with pytest.raises(ProblemList) as caught:
        load_contract(path, "contract.yaml")
    assert sorted((p.line, p.field) for p in caught.value.problems) == [
        (4, "tables.agents.key"), (7, "tables.agents.columns.team.allowed"),
        (8, "tables.agents.columns.boss.references")]
