"""The metric catalogue, docs/metrics.md: generated from the shipped rulesets, and kept current.

Like dbt's generated docs, the committed file must be what ``merit catalog``
writes today: change a ruleset, regenerate, commit both.  One entry is checked
by hand against rulesets/default.yaml and rulesets/small_team.yaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from merit.catalog import DOC_PATH, metrics_markdown, shipped
from tests.merit_cli import run_merit

REPO = Path(__file__).resolve().parents[1]

# Written by hand from the rulesets: the default's fdr (24-hour window, weight 20 of 120, P4's own
# curve) and small_team's override (its label in both languages, a 12-hour window, weight 30 of 105,
# one curve).
FDR_ENTRY = """\
### fdr

- **Defined in:** `default`, `small_team`
- **Label:**
  - `default`: 24-hour resolution rate (FDR)
  - `small_team`: 12-hour resolution rate
- **Label (zh-CN):**
  - `default`: 24小时解决率
  - `small_team`: 12小时解决率
- **Description:** Share of the period's tickets resolved within fdr_window_hours of creation. \
Unresolved tickets stay in the denominator as not resolved in time.
- **Description (zh-CN):** 本期工单中，自创建起 fdr_window_hours 小时内解决的占比。未解决的工单留在分母中，算作未及时解决。
- **Unit:** rate
- **Records:** `tickets` records whose `created_at` falls in the cycle's period, credited to `assignee`
- **Numerator:** the number of records where `hours_between(created_at, resolved_at) <= params.fdr_window_hours`
- **Denominator:** the number of records
- **Value:** numerator / denominator (undefined when the denominator is 0)
- **Scopes:** agent, team, org
- **Breakdowns:** `channel` (`channel`)
- **Interval:** 95 % Wilson interval (a ratio of counts)
- **Parameters:**
  - `default`: `fdr_window_hours` = `24`
  - `small_team`: `fdr_window_hours` = `12`
- **Scoring:**
  - `default`: KPI `fdr`, weight 20 of 120 (16.7 %), higher is better, a sample of at least 20 (else \
insufficient data); points: 0.6 → 0, 0.85 → 80, 0.95 → 100 (linear between, clamped at the ends), target 0.85; \
level `P4`: 0.5 → 0, 0.8 → 80, 0.92 → 100 (linear between, clamped at the ends), target 0.8
  - `small_team`: KPI `fdr`, weight 30 of 105 (28.6 %), higher is better, a sample of at least 5 (else \
insufficient data); points: 0.3 → 0, 0.6 → 80, 0.8 → 100 (linear between, clamped at the ends), target 0.6
"""


@pytest.fixture(scope="module")
def generated() -> str:
    return metrics_markdown(shipped())


def _entry(text: str, metric: str) -> str:
    start = text.index(f"\n### {metric}\n") + 1
    end = text.find("\n### ", start)
    return text[start:end + 1 if end != -1 else len(text)]


def test_committed_catalogue_is_current(generated):
    committed = (REPO / DOC_PATH).read_text(encoding="utf-8")
    assert committed == generated, "docs/metrics.md is stale: run `merit catalog` and commit it"


def test_fdr_entry_says_what_the_rulesets_say(generated):
    assert _entry(generated, "fdr") == FDR_ENTRY + "\n"


def test_every_metric_of_every_shipped_ruleset_has_an_entry(generated):
    rulesets = shipped()
    assert [r.name for r in rulesets] == ["default", "small_team"]
    for r in rulesets:
        for mid in r.plan.metrics:
            assert f"\n### {mid}\n" in generated and f"[`{mid}`](#{mid})" in generated


def test_filters_say_what_they_leave_out(generated):
    entry = _entry(generated, "bad_rate_service")
    assert ("- **Filter:** keeps the records where `not is_empty(rating)`; those where it is false or empty are "
            "left out") in entry
    assert ("- **Left out of the denominator:** records where `not (rating == 'bad' and bad_review_cause == "
            "'product')` is false or empty") in entry
    assert ("- **Why they are left out (zh-CN):** 产品原因导致的差评不是服务造成的：这些工单同时从分子和分母中剔除，"
            "不计入个人差评率。") in entry
    knowledge = _entry(generated, "knowledge_points")
    assert "credited to `authors` (a list: each listed agent gets an equal share)" in knowledge


def test_the_text_is_deterministic(generated):
    assert metrics_markdown(shipped()) == generated


def test_catalog_command_writes_and_checks(tmp_path, generated):
    target = tmp_path / "metrics.md"
    proc = run_merit("catalog", "--check", "--out", target)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and not target.exists()
    proc = run_merit("catalog", "--out", target)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text(encoding="utf-8") == generated
    assert run_merit("catalog", "--check", "--out", target).returncode == 0
    target.write_text(generated.replace("24-hour", "48-hour"), encoding="utf-8")
    proc = run_merit("catalog", "--check", "--out", target)
    assert proc.returncode == 2 and "not current" in proc.stderr and "Traceback" not in proc.stderr
    assert "48-hour" in target.read_text(encoding="utf-8")  # --check writes nothing
