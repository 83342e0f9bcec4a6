"""A ruleset's own words in both languages: a text is a string or a mapping by language, falls back
to the other language, unknown languages are errors at their line, filters say in words why they
leave records out, `merit check`'s list of texts given in one language only, and the shipped
rulesets written in both languages with the Chinese support terms."""

from __future__ import annotations

import copy
import pickle
import textwrap

import pytest

from merit.core.compile import compile_ruleset
from merit.core.errors import MeritError
from merit.core.ruleset import load_ruleset, shipped_rulesets
from merit.core.ruleset_words import (MissingTranslation, Words, exclusion_reason, missing_translations, text_in,
                                      words)
from merit.i18n import UnknownLanguage


def write(tmp_path, text: str):
    path = tmp_path / "acme.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def default():
    return load_ruleset("default")


# ------------------------------------------------------------------ one text
def test_a_text_is_a_string_or_a_mapping_by_language():
    both = Words({"en": "First-contact resolution", "zh-CN": "一次性解决率"})
    assert words(both, "zh-CN") == "一次性解决率"
    assert words(both, "en") == "First-contact resolution"
    assert words(both, None) == "First-contact resolution"  # None: the default language
    # As a string it is the default language's text: code that reads a label as text keeps working.
    assert both == "First-contact resolution" and isinstance(both, str)
    assert words("Handoff rate", "zh-CN") == "Handoff rate"  # a plain string is every language's text
    assert words({"en": "Tickets", "zh-CN": "工单数"}, "zh-CN") == "工单数"  # a mapping as YAML gives it
    assert words(None, "zh-CN") == ""
    with pytest.raises(UnknownLanguage):
        words(both, "fr")


def test_a_missing_language_falls_back_to_the_other():
    only_english = Words({"en": "Handoff rate"})
    only_chinese = Words({"zh-CN": "转手率"})
    assert words(only_english, "zh-CN") == "Handoff rate"
    assert words(only_chinese, "en") == "转手率"
    assert str(only_chinese) == "转手率"
    assert text_in(only_english, "zh-CN") is None and text_in(only_chinese, "zh-CN") == "转手率"


def test_the_languages_survive_pickling_and_copies():
    both = Words({"en": "Capacity", "zh-CN": "工作容量"})
    for copied in (pickle.loads(pickle.dumps(both)), copy.deepcopy(both)):
        assert isinstance(copied, Words) and words(copied, "zh-CN") == "工作容量" and copied == "Capacity"


def test_results_json_gets_the_default_language_text(default):
    """The machine-readable definitions (results.json) keep one English text per label."""
    dumped = default.ruleset.metrics["fcr"].model_dump(exclude_none=True)
    assert dumped["label"] == "First-contact resolution (FCR)" and type(dumped["label"]) is str
    assert "reasons" not in dumped


# ------------------------------------------------------------------ errors
def test_an_unknown_language_is_an_error_at_its_key(tmp_path):
    path = write(tmp_path, """\
        name: acme
        extends: default
        metrics:
          fcr:
            label:
              en: First-contact resolution
              zh-cn: 一次性解决率
        """)
    with pytest.raises(MeritError) as err:
        load_ruleset(path)
    e = err.value
    assert (e.line, e.column, e.field) == (7, 7, "metrics.fcr.label.zh-cn")
    assert e.message == "unknown language 'zh-cn' (did you mean 'zh-CN'?); a text is given in en, zh-CN"
    assert e.expected == "a language: en, zh-CN"


@pytest.mark.parametrize("text, line, message", [
    ("rubric:\n  faq: {S: {en: Definitive, fr: Définitif}}\n", 4,
     "unknown language 'fr'; a text is given in en, zh-CN"),
    ("metrics:\n  fcr: {label: {}}\n", 4, "the text in at least one language, e.g. {en: ..., zh-CN: ...}"),
    ("metrics:\n  fcr: {label: {en: [a, b]}}\n", 4, "the en text must be a text (got list)"),
    ("metrics:\n  fcr:\n    reasons: {denominator: {en: Left out}}\n", 5,
     "the metric has no filter 'denominator' that leaves records out (its reasons may explain: where)"),
    ("metrics:\n  bad_rate_service:\n    reasons: {denominater: {en: Left out}}\n", 5,
     "the metric has no filter 'denominater' that leaves records out (did you mean 'denominator'?)"),
    ("corrections:\n  tickets:\n    record: {en: 'ticket {ticket_id}', zh-CN: '工单 {ticket}'}\n", 5,
     "'record' '工单 {ticket}' uses {ticket}; it may use {ticket_id}"),
])
def test_wrong_words_are_errors_at_their_line(tmp_path, text, line, message):
    path = write(tmp_path, "name: acme\nextends: default\n" + text)
    with pytest.raises(MeritError) as err:
        load_ruleset(path)
    assert err.value.line == line and err.value.message == message, str(err.value)


# ------------------------------------------------------------------ exclusions in words
def test_exclusions_are_explained_in_words_never_as_expressions(default):
    plan = compile_ruleset(default)
    service = plan.metrics["bad_rate_service"]
    assert exclusion_reason(service, "zh-CN") == ("产品原因导致的差评不是服务造成的：这些工单同时从分子和分母中剔除，"
                                                 "不计入个人差评率。")
    assert exclusion_reason(service, "en") == ("Bad reviews caused by the product are not the agent's doing: they "
                                               "leave both sides of the rate, so they do not count against the agent.")
    assert exclusion_reason(service, "zh-CN", "where") == "没有客户评价的工单不计入：分母是有评价的工单，以保证比率的真实性。"
    assert exclusion_reason(plan.metrics["fcr"], "en", "where") == (
        "Unresolved tickets are left out; only a resolved ticket can have been resolved at first contact.")
    narrow = exclusion_reason(plan.metrics["independent_closure_narrow"], "zh-CN")
    assert narrow == "根因是产品 bug 或故障的工单无法由技术支持独立解决：这些工单同时从分子和分母中剔除。"
    # Every filter of the shipped ruleset that leaves records out of a scored KPI says why, in both languages.
    for kid, kpi in default.ruleset.scoring.kpis.items():
        spec = default.ruleset.metrics[kpi.metric or kid]
        for name in ("where", "denominator"):
            if getattr(spec, name) is not None:
                reason = spec.reasons[name]
                assert text_in(reason, "en") and text_in(reason, "zh-CN"), (kid, name)
                assert getattr(spec, name) not in words(reason, "en")


def test_without_a_reason_the_description_explains(tmp_path):
    loaded = load_ruleset(write(tmp_path, """\
        name: acme
        extends: default
        metrics:
          bad_rate_service:
            reasons: null
            description: {en: Service-caused bad reviews over rated tickets., zh-CN: 服务原因差评 / 有评价的工单。}
        """))
    spec = loaded.ruleset.metrics["bad_rate_service"]
    assert exclusion_reason(spec, "zh-CN") == "服务原因差评 / 有评价的工单。"
    assert exclusion_reason(spec, "en") == "Service-caused bad reviews over rated tickets."
    spec.description = None
    assert exclusion_reason(spec, "en") == ""  # nothing said: the caller words it, never the expression


# ------------------------------------------------------------------ missing translations
def test_texts_in_one_language_are_listed(tmp_path):
    loaded = load_ruleset(write(tmp_path, """\
        name: acme
        extends: default
        label: Acme support
        metrics:
          fdr:
            label: 12-hour resolution rate
          fcr:
            label: {zh-CN: 一次性解决率（首次联系）}
        rubric:
          faq:
            S: {en: Answers a top question definitively}
        scorecard:
          credits:
            knowledge:
              title: {en: Knowledge, zh-CN: 知识输出}
              columns:
                - {column: title, header: 标题}
        """))
    assert missing_translations(loaded.ruleset, loaded) == [
        MissingTranslation("label", "en", f"{tmp_path / 'acme.yaml'}, line 3"),
        MissingTranslation("metrics.fdr.label", "en", f"{tmp_path / 'acme.yaml'}, line 6"),
        MissingTranslation("metrics.fcr.label", "zh-CN", f"{tmp_path / 'acme.yaml'}, line 8"),
        MissingTranslation("rubric.faq.S", "en", f"{tmp_path / 'acme.yaml'}, line 11"),
        MissingTranslation("scorecard.credits.knowledge.columns[0].header", "zh-CN", f"{tmp_path / 'acme.yaml'}, line 17"),
    ]
    assert words(loaded.ruleset.metrics["fcr"].label, "en") == "一次性解决率（首次联系）"  # the fallback


@pytest.mark.parametrize("name", shipped_rulesets())
def test_shipped_rulesets_are_written_in_both_languages(name):
    loaded = load_ruleset(name)
    assert missing_translations(loaded.ruleset, loaded) == []


# The Chinese support terms of the metrics the scorecards lead with.
SEED_TERMS = {
    "fdr": "24小时解决率",
    "fcr": "一次性解决率",
    "rating_rate": "评价率",
    "good_rate": "好评率",
    "bad_rate": "差评率（全部原因）",
    "bad_rate_service": "差评率（服务原因）",
    "independent_closure": "独立闭环率",
    "independent_closure_narrow": "独立闭环率（狭义）",
    "productivity": "服务人效",
    "dts_avg_hours": "平均解决时长（小时）",
    "handoff_rate": "转手率",
    "capacity": "工作容量",
    "capability": "工作能力",
    "engagement": "业务投入度",
    "work_efficiency": "工作人效",
    "smart_interception_rate": "智能拦截率",
    "tool_interception_rate": "工具拦截率",
    "innovation_points": "创新度",
    "influence_points": "影响度",
    "headcount_avg": "团队平均人数",
    "utilization": "团队利用率",
    "cost_per_interaction": "每次互动成本",
}


def test_the_default_ruleset_uses_the_chinese_support_terms(default):
    rs = default.ruleset
    assert {mid: words(rs.metrics[mid].label, "zh-CN") for mid in SEED_TERMS} == SEED_TERMS
    assert words(rs.metrics["fcr"].label, "en") == "First-contact resolution (FCR)"
    assert words(rs.rubric["case"]["S"], "zh-CN").startswith("对疑难、反复出现的问题做出开创性的诊断")
    assert words(rs.scorecard.credits["knowledge"].title, "zh-CN") == "知识输出"
    assert [words(g.title, "zh-CN") for g in rs.scorecard.groups.values()] == ["管理", "技术", "业务", "团队"]
    assert words(rs.lists["customers_lowest_csat"].label, "zh-CN") == "满意度得分最低的客户"
    assert words(load_ruleset("small_team").ruleset.metrics["fdr"].label, "zh-CN") == "12小时解决率"


def test_corrections_are_worded_in_the_readers_language(default):
    tickets = default.ruleset.corrections["tickets"]
    cause = tickets.fields["bad_review_cause"]
    assert cause.change_text("bad_review_cause", "service", "product", "zh-CN") == "差评改判为产品原因"
    assert cause.change_text("bad_review_cause", "service", "product") == "bad review reclassified as product-caused"
    assert tickets.fields["assignee"].change_text("assignee", "A1", "A2", "zh-CN") == "由 A1 转给 A2"
    assert tickets.record_text(("T-1",), "zh-CN") == "工单 T-1"
    assert tickets.record_text(("T-1",)) == "ticket T-1"
    grades = default.ruleset.corrections["grades"]
    assert grades.scorecard_text(("K-1", "P9"), "zh-CN") == "知识条目 K-1，一位评审的评级"
    assert grades.fields["grade"].change_text("grade", "B", "A", "zh-CN") == "评级由 B 改为 A"


def test_currency_is_an_iso_code_and_money_prints_with_its_symbol(tmp_path):
    from merit.core.errors import MeritError
    from merit.core.ruleset import load_ruleset
    from merit.i18n.formats import format_currency

    assert load_ruleset("default").ruleset.currency == "CNY"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nextends: default\ncurrency: RMB\n", encoding="utf-8")
    with pytest.raises(MeritError) as err:
        load_ruleset(str(bad))
    assert "unknown currency 'RMB'" in str(err.value) and "line 3" in str(err.value)
    assert format_currency(278644.4, "CNY", "zh-CN", 0) == "¥278,644"
    assert format_currency(278644.4, "CNY", "en", 0) == "CN¥278,644"


def test_breakdown_labels_come_from_the_ruleset(tmp_path):
    from merit.core.ruleset_words import words

    labels = load_ruleset("default").ruleset.breakdowns
    assert (words(labels["channel"], "zh-CN"), words(labels["month"], "zh-CN")) == ("渠道", "月份")
    child = tmp_path / "child.yaml"
    child.write_text("name: child\nextends: default\nbreakdowns:\n  channel: {en: contact channel, zh-CN: 联系渠道}\n",
                     encoding="utf-8")
    merged = load_ruleset(str(child)).ruleset.breakdowns
    assert words(merged["channel"], "en") == "contact channel" and words(merged["month"], "zh-CN") == "月份"
