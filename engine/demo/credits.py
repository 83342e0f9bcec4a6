"""The records that credit agents as authors or owners: knowledge items and the panel's grades,
requirements, innovations and influence."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from merit.demo.arrays import (SECONDS_PER_DAY, RowSampler, categorical, dates, distinct_picks, id_width, ids,
                               join_lists, take)
from merit.demo.columns import drawn_weights
from merit.demo.service import Customers
from merit.demo.vocabulary import FEATURES, LEVELS, PRODUCTS, SENIOR, SYMPTOMS
from merit.demo.world import World
from merit.demo.zone import timestamps

KNOWLEDGE_KINDS, KNOWLEDGE_KIND_P = drawn_weights("knowledge", "kind",
                                                  {"faq": 0.4, "sop": 0.2, "case": 0.3, "best_practice": 0.1})
KNOWLEDGE_PREFIX = {"faq": "FAQ：", "sop": "SOP：", "case": "案例：", "best_practice": "最佳实践："}
KNOWLEDGE_VIEWS_MEDIAN = {"faq": 220.0, "sop": 90.0, "case": 140.0, "best_practice": 160.0}
# Grades best to worst: an item's true quality, and the panel's comments by grade.
GRADES, QUALITY_P = drawn_weights("grades", "grade", {"S": 0.1, "A": 0.3, "B": 0.4, "C": 0.2})
COMMENTS = {
    "S": ("典型案例，可推广", "分析透彻，复用价值高", "可作为培训材料"),
    "A": ("内容完整，步骤清晰", "有参考价值", "建议补充截图"),
    "B": ("基本可用，需补充细节", "结构可以更清楚", "适用范围偏窄"),
    "C": ("信息不足，难以复用", "与已有条目重复", "需要重写"),
}
KANO, KANO_P = drawn_weights("requirements", "kano",
                             {"basic": 0.3, "performance": 0.35, "excitement": 0.15, "indifferent": 0.15,
                              "reverse": 0.05})
STATUSES, STATUS_P = drawn_weights("requirements", "status",
                                   {"landed": 0.3, "accepted": 0.25, "open": 0.3, "rejected": 0.15})
INNOVATION_KINDS, INNOVATION_KIND_P = drawn_weights(
    "innovations", "kind", {"patent": 0.1, "book": 0.03, "article": 0.4, "contest": 0.22, "other": 0.25})
INNOVATION_TITLES = {
    "patent": ("一种基于日志特征的故障定位方法", "一种弱网环境下的自适应重连方法", "一种工单智能分派方法",
               "一种客户端异常自动诊断方法"),
    "book": ("《技术支持工程实践》", "《音视频问题排查手册》", "《SDK 集成指南》"),
    "article": ("从工单数据看产品质量", "推送延迟排查实录", "弱网优化的十个细节", "如何写好一篇 SOP",
                "一次线上故障的复盘"),
    "contest": ("公司黑客马拉松", "行业技术支持技能大赛", "内部工具创新大赛"),
    "other": ("新人培训课程建设", "知识库结构重整", "值班手册修订", "客户自助诊断页面"),
}
HONORS, HONOR_P = drawn_weights("innovations", "honor", {"team": 0.45, "company": 0.3, "industry": 0.15,
                                                         "national": 0.07, "international": 0.03})
# influence.kind: share of records, share paid, median revenue of a paid one
INFLUENCE_KINDS, INFLUENCE_KIND_P = drawn_weights(
    "influence", "kind", {"onsite": 0.2, "diagnosis": 0.25, "tuning": 0.2, "training": 0.15, "thanks_letter": 0.2})
INFLUENCE_PAID_P = {"onsite": 0.6, "diagnosis": 0.2, "tuning": 0.4, "training": 0.7, "thanks_letter": 0.0}
INFLUENCE_REVENUE_MEDIAN = {"onsite": 30000.0, "diagnosis": 8000.0, "tuning": 20000.0, "training": 15000.0,
                            "thanks_letter": 1.0}


def _per_kind(kinds: tuple[str, ...], values: dict[str, float]) -> np.ndarray:
    return np.array([values[k] for k in kinds])


def pick_people(rng: np.random.Generator, sampler: RowSampler, rows: np.ndarray, counts: np.ndarray,
                most: int) -> np.ndarray:
    """(len(rows) × most) distinct agent picks from a row sampler; -1 where unused."""
    m = len(rows)
    picks = np.stack([sampler(rows, rng.random(m)) for _ in range(most)], axis=1)
    picks[np.arange(most)[None, :] >= counts[:, None]] = -1
    return distinct_picks(picks)


def people_list(w: World, picks: np.ndarray) -> pa.Array:
    parts = [w.ids.take(pa.array(np.maximum(picks[:, j], 0), mask=picks[:, j] < 0)) for j in range(picks.shape[1])]
    return join_lists(*parts)


def dated_in_period(rng: np.random.Generator, w: World, m: int, before_share: float, before_days: int
                    ) -> np.ndarray:
    day = w.start + rng.integers(0, w.period_days, m)
    early = rng.random(m) < before_share
    day[early] = w.start - rng.integers(1, before_days + 1, int(early.sum()))
    return np.sort(day, kind="stable")


def knowledge(rng: np.random.Generator, w: World, fmt: str) -> tuple[dict, dict]:
    """Knowledge items with 1-3 authors, and their grades."""
    m = max(5, int(round(w.n * w.scale * 1.6)))
    published = dated_in_period(rng, w, m, 0.07, 60)
    sampler, day0 = w.author_sampler(w.start - 60, w.end)
    authors = pick_people(rng, sampler, published - day0, 1 + categorical(rng, [0.6, 0.3, 0.1], m), 3)
    kind = categorical(rng, KNOWLEDGE_KIND_P, m)
    prefix = take([KNOWLEDGE_PREFIX[k] for k in KNOWLEDGE_KINDS], kind)
    product = pc.binary_join_element_wise(prefix, take(PRODUCTS, rng.integers(0, len(PRODUCTS), m)), "")
    title = pc.binary_join_element_wise(product, take(SYMPTOMS, rng.integers(0, len(SYMPTOMS), m)), " ")
    views = np.round(rng.lognormal(np.log(_per_kind(KNOWLEDGE_KINDS, KNOWLEDGE_VIEWS_MEDIAN)[kind]), 1.0)
                     ).astype(np.int64)
    citations = rng.poisson(views * 0.03)
    items = {
        "item_id": ids("K", np.arange(1, m + 1), id_width(m, 4)),
        "kind": take(KNOWLEDGE_KINDS, kind),
        "title": title,
        "authors": people_list(w, authors),
        "published_on": dates(published),
        "views": views,
        "citations": citations.astype(np.int64),
    }
    return items, _grades(rng, w, fmt, items["item_id"], published, authors)


def _grades(rng: np.random.Generator, w: World, fmt: str, item_ids: pa.Array, published: np.ndarray,
            authors: np.ndarray) -> dict:
    """A panel of 3-5 senior agents per item (never an author of the item), grades scattered
    around the item's quality; about 10 % of the items are ungraded, and grading of items
    published at the very end is still incomplete."""
    m = len(published)
    member, panel = _panels(rng, w, m)
    valid = (member >= 0) & ~(member[:, :, None] == np.where(authors >= 0, authors, -2)[:, None, :]).any(axis=2)
    graded = rng.random(m) >= 0.1
    chosen = valid & (np.cumsum(valid, axis=1) <= panel[:, None]) & graded[:, None]
    item, slot = np.nonzero(chosen)
    panelist = member[item, slot]
    quality = categorical(rng, QUALITY_P, m)
    shift = np.array([-1, 0, 1, 2])[categorical(rng, [0.12, 0.72, 0.13, 0.03], len(item))]
    grade = np.clip(quality[item] + shift, 0, len(GRADES) - 1)
    g_day = published[item] + rng.integers(1, 22, len(item))
    g_local = g_day * SECONDS_PER_DAY + rng.integers(9 * 3600, 19 * 3600, len(item))
    done = g_day <= w.end + 3  # the rest is still with the panel at export time
    item, panelist, grade, g_local = item[done], panelist[done], grade[done], g_local[done]
    order = np.lexsort((panelist, item))
    item, panelist, grade, g_local = item[order], panelist[order], grade[order], g_local[order]
    comment_vocab = [c for g in GRADES for c in COMMENTS[g]]
    comment = grade * 3 + rng.integers(0, 3, len(item))
    return {
        "item_id": item_ids.take(pa.array(item)),
        "panelist": w.ids.take(pa.array(panelist)),
        "grade": take(GRADES, grade),
        "graded_at": timestamps(w.zone, w.zone.to_utc(g_local), None, fmt),
        "comment": take(comment_vocab, comment, rng.random(len(item)) < 0.3),
    }


def _panels(rng: np.random.Generator, w: World, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate panelists per item (agents, -1 where none) and the panel size of each item:
    seniors employed in the period (P3s join when there are too few)."""
    employed_any = (w.hired <= w.end) & (w.last_day >= w.start)
    pool = np.flatnonzero(employed_any & (w.level == SENIOR))
    if len(pool) < 6:
        pool = np.flatnonzero(employed_any & (w.level >= LEVELS.index("P3")))
    p = len(pool)
    panel = np.minimum(3 + categorical(rng, [0.5, 0.3, 0.2], m), p)
    if p <= 64:
        cand = np.argsort(rng.random((m, p)), axis=1)
    else:
        cand = distinct_picks(rng.integers(0, p, (m, 16)))
    return np.where(cand >= 0, pool[np.maximum(cand, 0)], -1), panel


def requirements(rng: np.random.Generator, w: World) -> dict:
    m = max(5, int(round(w.n * w.scale * 0.7)))
    submitted = dated_in_period(rng, w, m, 0.05, 45)
    sampler, day0 = w.author_sampler(w.start - 45, w.end)
    submitter = sampler(submitted - day0, rng.random(m))
    kano = categorical(rng, KANO_P, m)
    share = np.round(rng.beta(0.9, 2.2, m), 2)
    share[rng.random(m) < 0.06] = 1.0
    status = categorical(rng, STATUS_P, m)
    landed = STATUSES.index("landed")
    landed_on = submitted + rng.integers(7, 76, m)
    late = (status == landed) & (landed_on > w.end + 3)  # not landed yet at export time
    status[late] = STATUSES.index("accepted")
    title = pc.binary_join_element_wise(take(PRODUCTS, rng.integers(0, len(PRODUCTS), m)),
                                        take(FEATURES, rng.integers(0, len(FEATURES), m)), " ")
    return {
        "requirement_id": ids("REQ", np.arange(1, m + 1), id_width(m, 4)),
        "title": title,
        "submitter": w.ids.take(pa.array(submitter)),
        "submitted_on": dates(submitted),
        "kano": take(KANO, kano),
        "impact_share": share,
        "status": take(STATUSES, status),
        "landed_on": dates(landed_on, mask=status != landed),
    }


def innovations(rng: np.random.Generator, w: World) -> dict:
    m = max(3, int(round(w.n * w.scale * 0.15)))
    day = dated_in_period(rng, w, m, 0.1, 60)
    sampler, day0 = w.author_sampler(w.start - 60, w.end)
    owners = pick_people(rng, sampler, day - day0, 1 + categorical(rng, [0.5, 0.3, 0.15, 0.05], m), 4)
    kind = categorical(rng, INNOVATION_KIND_P, m)
    titles = [t for k in INNOVATION_KINDS for t in INNOVATION_TITLES[k]]
    base = np.cumsum([0] + [len(INNOVATION_TITLES[k]) for k in INNOVATION_KINDS])
    sizes = np.diff(base)
    title = base[kind] + np.floor(rng.random(m) * sizes[kind]).astype(np.int64)
    honor = categorical(rng, HONOR_P, m)
    return {
        "innovation_id": ids("INV", np.arange(1, m + 1), 3),
        "kind": take(INNOVATION_KINDS, kind),
        "title": take(titles, title),
        "owners": people_list(w, owners),
        "honor": take(HONORS, honor),
        "recognized_on": dates(day),
    }


def influence(rng: np.random.Generator, w: World, customers: Customers) -> dict:
    m = max(5, int(round(w.n * w.scale * 0.6)))
    day = dated_in_period(rng, w, m, 0.05, 30)
    sampler, day0 = w.author_sampler(w.start - 30, w.end)
    owners = pick_people(rng, sampler, day - day0, 1 + categorical(rng, [0.6, 0.3, 0.1], m), 3)
    kind = categorical(rng, INFLUENCE_KIND_P, m)
    paid_p = _per_kind(INFLUENCE_KINDS, INFLUENCE_PAID_P)[kind]
    median = _per_kind(INFLUENCE_KINDS, INFLUENCE_REVENUE_MEDIAN)[kind]
    revenue = np.where(rng.random(m) < paid_p, np.round(rng.lognormal(np.log(median), 0.6) / 100.0) * 100, 0)
    return {
        "record_id": ids("INF", np.arange(1, m + 1), id_width(m, 4)),
        "kind": take(INFLUENCE_KINDS, kind),
        "owners": people_list(w, owners),
        "customer_id": customers.ids.take(pa.array(customers.draw(rng, m))),
        "revenue": revenue.astype(np.int64),
        "date": dates(day),
    }
