"""The synthetic workspace behind ``merit demo`` and the benchmark's data.

:func:`generate_workspace` writes ``cycle.yaml`` and one file per input table
of the contract (see SPEC.md) into a folder.  Everything is drawn from a numpy
``Generator`` seeded by ``seed``: the same arguments give byte-identical files
(no clock, fixed row order, fixed number formatting).  All per-record work is
vectorised (numpy / pyarrow); the only Python loops run over chunks of days,
teams, months, incidents and tables, so ten million tickets take well under a
minute and bounded memory (tickets are generated and written one chunk of
whole days at a time).

What the data looks like (so that every metric of the default ruleset has
something to chew on) is described in ``docs/demo.md``.

Timestamps are written in the cycle's local time without an offset
(``2026-08-20 20:00:00``); in CSV output about 2 % of the ticket rows carry an
explicit offset instead (``2026-08-20T20:00:00+08:00`` or the same instant as
``2026-08-20T12:00:00+00:00``) to exercise the parser.  Parquet output uses
native types: naive local ``timestamp[s]``, ``date32``, ``bool``, ``int64``
and ``double``; lists are ``;``-separated strings in both formats.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from merit.core.errors import MeritError

__all__ = ["generate_workspace", "TABLE_COLUMNS", "default_ticket_count"]

Progress = Callable[[str, float], None]

# ---------------------------------------------------------------------------
# The contract: column names (in order) and the physical type of each column.
# "ts" is a timestamp (string in CSV, naive local timestamp[s] in parquet).
# ---------------------------------------------------------------------------
_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "agents": (("agent_id", "str"), ("name", "str"), ("team", "str"), ("level", "str"), ("role", "str"),
               ("hired_on", "date"), ("left_on", "date"), ("cost_per_month", "int")),
    "tickets": (("ticket_id", "str"), ("customer_id", "str"), ("channel", "str"), ("created_at", "ts"),
                ("first_response_at", "ts"), ("resolved_at", "ts"), ("closed_at", "ts"), ("assignee", "str"),
                ("reopened", "int"), ("escalated", "bool"), ("product_issue", "bool"), ("rating", "str"),
                ("csat", "int"), ("bad_review_cause", "str"), ("handle_minutes", "float"),
                ("wait_seconds", "int")),
    "handoffs": (("ticket_id", "str"), ("from_agent", "str"), ("to_agent", "str"), ("at", "ts")),
    "timelog": (("agent_id", "str"), ("date", "date"), ("activity", "str"), ("hours", "float")),
    "knowledge": (("item_id", "str"), ("kind", "str"), ("title", "str"), ("authors", "str"),
                  ("published_on", "date"), ("views", "int"), ("citations", "int")),
    "grades": (("item_id", "str"), ("panelist", "str"), ("grade", "str"), ("graded_at", "ts"),
               ("comment", "str")),
    "requirements": (("requirement_id", "str"), ("title", "str"), ("submitter", "str"), ("submitted_on", "date"),
                     ("kano", "str"), ("impact_share", "float"), ("status", "str"), ("landed_on", "date")),
    "innovations": (("innovation_id", "str"), ("kind", "str"), ("title", "str"), ("owners", "str"),
                    ("honor", "str"), ("recognized_on", "date")),
    "influence": (("record_id", "str"), ("kind", "str"), ("owners", "str"), ("customer_id", "str"),
                  ("revenue", "int"), ("date", "date")),
    "interceptions": (("date", "date"), ("kind", "str"), ("tool", "str"), ("inquiries", "int"),
                      ("intercepted", "int"), ("team", "str")),
    "surveys": (("response_id", "str"), ("customer_id", "str"), ("answered_on", "date"), ("score", "int"),
                ("agent_id", "str")),
    "incidents": (("incident_id", "str"), ("started_at", "ts"), ("ended_at", "ts")),
    "costs": (("month", "str"), ("team", "str"), ("amount", "float")),
}

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(c for c, _ in cols) for t, cols in _SCHEMA.items()}

_PA_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "date": pa.date32()}

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------
TEAMS = ("android", "ios", "web", "server", "platform", "media", "database", "network", "cloud", "payments",
         "iot", "security")
LEVELS = ("P2", "P3", "P4")
CHANNELS = ("im", "phone", "email", "ticket", "wechat")
ACTIVITIES = ("online_support", "training", "review", "tool_dev", "tool_bugfix", "non_support")

_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
_GIVEN = list(dict.fromkeys(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂玲华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣佳琳晨阳雪婷倩颖睿博"
    "文思雨嘉子梓轩然晓志海鹏辉晶慧莉萍红亮峰建国振成毅昊天一诗悦欢蕾菲薇琪瑶璐彤萱怡馨妍航铭哲皓晗泽逸锐楠"))

_PRODUCTS = ("Android SDK", "iOS SDK", "Web SDK", "小程序 SDK", "服务端 API", "控制台", "消息推送", "音视频通话",
             "云端录制", "实时数据看板")
_SYMPTOMS = ("初始化失败", "登录态失效", "推送消息延迟", "弱网下频繁断线", "回调未触发", "鉴权签名错误",
             "音视频卡顿", "录制文件缺失", "接口超时", "版本升级后崩溃", "证书配置错误", "计费数据不一致",
             "日志无法上传", "跨域请求被拒绝", "内存持续增长", "首帧加载慢")
_KNOWLEDGE_PREFIX = {"faq": "FAQ：", "sop": "SOP：", "case": "案例：", "best_practice": "最佳实践："}
_FEATURES = ("支持断点续传", "增加错误码说明", "优化弱网重连", "提供批量导出", "支持自定义日志级别", "增加用量告警",
             "简化鉴权流程", "开放回调重试配置", "支持多区域部署", "提供一键诊断", "支持灰度发布", "提升并发上限")
_INNOVATION_TITLES = {
    "patent": ("一种基于日志特征的故障定位方法", "一种弱网环境下的自适应重连方法", "一种工单智能分派方法",
               "一种客户端异常自动诊断方法"),
    "book": ("《技术支持工程实践》", "《音视频问题排查手册》", "《SDK 集成指南》"),
    "article": ("从工单数据看产品质量", "推送延迟排查实录", "弱网优化的十个细节", "如何写好一篇 SOP",
                "一次线上故障的复盘"),
    "contest": ("公司黑客马拉松", "行业技术支持技能大赛", "内部工具创新大赛"),
    "other": ("新人培训课程建设", "知识库结构重整", "值班手册修订", "客户自助诊断页面"),
}
_COMMENTS = {
    "S": ("典型案例，可推广", "分析透彻，复用价值高", "可作为培训材料"),
    "A": ("内容完整，步骤清晰", "有参考价值", "建议补充截图"),
    "B": ("基本可用，需补充细节", "结构可以更清楚", "适用范围偏窄"),
    "C": ("信息不足，难以复用", "与已有条目重复", "需要重写"),
}

# Hourly volume profiles (local time), weekday and weekend.
_HOURS_WEEKDAY = np.array([0.15, 0.1, 0.08, 0.06, 0.06, 0.1, 0.25, 0.6, 1.4, 2.6, 3.0, 2.8,
                           1.8, 2.4, 2.9, 2.8, 2.6, 2.2, 1.5, 1.0, 0.9, 0.8, 0.5, 0.3])
_HOURS_WEEKEND = np.array([0.2, 0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.3, 0.6, 0.9, 1.1, 1.1,
                           0.9, 1.0, 1.1, 1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.7, 0.5, 0.3])
_DAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.0, 0.95, 0.35, 0.3])  # Monday .. Sunday

# Channel mix drifts over the period (IM grows, email shrinks) so that the
# plain FDR trend and the channel-standardised one differ (Simpson's paradox).
_CHANNEL_MIX_START = np.array([0.30, 0.15, 0.18, 0.27, 0.10])
_CHANNEL_MIX_END = np.array([0.40, 0.14, 0.11, 0.23, 0.12])
_FIRST_RESPONSE_MEDIAN_S = np.array([50.0, 25.0, 1800.0, 2400.0, 110.0])
_RESOLUTION_MEDIAN_H = np.array([1.2, 0.8, 8.0, 12.0, 2.0])
_HANDLE_MEDIAN_MIN = np.array([14.0, 18.0, 20.0, 25.0, 12.0])
_RATED_P = np.array([0.62, 0.38, 0.32, 0.48, 0.58])

_LEVEL_LOAD = np.array([0.9, 1.0, 0.85])      # tickets taken per day, relative
_LEVEL_SPEED = np.array([1.3, 1.0, 0.75])     # resolution-time multiplier
_LEVEL_QUALITY = np.array([0.35, 0.0, -0.45])  # bad-review log-odds offset
_LEVEL_ESCALATION = np.array([0.13, 0.095, 0.06])
_LEVEL_COST = np.array([18000, 26000, 38000])

_SECONDS_PER_DAY = 86400
_CHUNK_ROWS = 1_000_000


# ---------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------
def _day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday


def _categorical(rng: np.random.Generator, p, n: int) -> np.ndarray:
    cum = np.cumsum(np.asarray(p, dtype=float))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


class _RowSampler:
    """Sample a column index per row of a non-negative weight matrix (rows = days)."""

    def __init__(self, weights: np.ndarray):
        w = np.asarray(weights, dtype=float)
        total = w.sum(axis=1, keepdims=True)
        empty = total[:, 0] <= 0
        if empty.any():  # a row without weight samples uniformly (never used by the demo)
            w = w.copy()
            w[empty] = 1.0
            total = w.sum(axis=1, keepdims=True)
        cum = np.cumsum(w / total, axis=1)
        cum[:, -1] = 1.0
        self.width = w.shape[1]
        self.flat = (cum + np.arange(w.shape[0])[:, None]).ravel()

    def __call__(self, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.flat, rows + u * (1.0 - 1e-9), side="right")
        return np.minimum(idx - rows * self.width, self.width - 1)


def _strings(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(vocab, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """vocab[idx] as an Arrow string array; rows where ``mask`` is True are null."""
    vocab = vocab if isinstance(vocab, pa.Array) else _strings(vocab)
    indices = pa.array(np.asarray(idx, dtype=np.int64), mask=mask)
    return vocab.take(indices)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()), width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _width(n: int, minimum: int = 3) -> int:
    return max(minimum, len(str(max(int(n), 1))))


def _join_lists(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, ";", null_handling="skip")


def _distinct_picks(picks: np.ndarray) -> np.ndarray:
    """-1 for every pick that repeats an earlier one in its row (or is -1)."""
    out = picks.copy()
    for j in range(1, picks.shape[1]):
        dup = (picks[:, :j] == picks[:, [j]]).any(axis=1)
        out[dup, j] = -1
    return out


def _dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=mask)


# ---------------------------------------------------------------------------
# Time zone handling: local naive seconds <-> UTC seconds, vectorised
# ---------------------------------------------------------------------------
class _Zone:
    def __init__(self, name: str, first_day: int, last_day: int):
        self.name = name
        probe = np.arange(first_day, last_day + 1, dtype=np.int64) * _SECONDS_PER_DAY
        probe = np.concatenate([probe, probe + _SECONDS_PER_DAY // 2])
        offsets = self._offsets_utc(probe)
        self.fixed = int(offsets[0]) if (offsets == offsets[0]).all() else None

    def _offsets_utc(self, utc_sec: np.ndarray) -> np.ndarray:
        idx = pd.DatetimeIndex(np.asarray(utc_sec, dtype="datetime64[s]")).tz_localize("UTC").tz_convert(self.name)
        local = idx.tz_localize(None).as_unit("s").asi8
        return local - np.asarray(utc_sec, dtype=np.int64)

    def to_utc(self, local_sec: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            return local_sec - self.fixed
        idx = pd.DatetimeIndex(np.asarray(local_sec, dtype="datetime64[s]"))
        loc = idx.tz_localize(self.name, ambiguous=np.zeros(len(idx), dtype=bool), nonexistent="shift_forward")
        return loc.tz_convert("UTC").tz_localize(None).as_unit("s").asi8

    def offsets(self, utc_sec: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            return np.full(len(utc_sec), self.fixed, dtype=np.int64)
        return self._offsets_utc(utc_sec)

    def to_local(self, utc_sec: np.ndarray) -> np.ndarray:
        return utc_sec + self.offsets(utc_sec)


def _offset_suffix(offset_sec: np.ndarray) -> pa.Array:
    uniq, inverse = np.unique(offset_sec, return_inverse=True)
    labels = []
    for off in uniq.tolist():  # a handful of distinct offsets
        sign = "+" if off >= 0 else "-"
        minutes = abs(int(off)) // 60
        labels.append(f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    return _take(labels, inverse)


def _timestamps(zone: _Zone, utc_sec: np.ndarray, valid: np.ndarray | None, fmt: str,
                mode: np.ndarray | None = None) -> pa.Array:
    """A timestamp column: naive local time; in CSV, rows with mode 1 carry the
    local offset and rows with mode 2 are written in UTC with ``+00:00``."""
    utc_sec = np.asarray(utc_sec, dtype=np.int64)
    mask = None if valid is None else ~valid
    local = zone.to_local(utc_sec)
    ts = pa.array(local, type=pa.timestamp("s"), mask=mask)
    if fmt == "parquet":
        return ts
    text = pc.cast(ts, pa.string())
    if mode is None:
        return text
    pick = (mode > 0) if valid is None else (mode > 0) & valid
    if not pick.any():
        return text
    rows = np.flatnonzero(pick)
    as_utc = mode[rows] == 2
    shown = np.where(as_utc, utc_sec[rows], local[rows])
    body = pc.strftime(pa.array(shown, type=pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    suffix = _offset_suffix(np.where(as_utc, 0, local[rows] - utc_sec[rows]))
    replaced = pc.binary_join_element_wise(body, suffix, "")
    return pc.replace_with_mask(text, pa.array(pick), replaced)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
class _Sink:
    """Appends Arrow record batches of one table to data/NAME.{csv,parquet}."""

    def __init__(self, path: Path, table: str, fmt: str):
        self.columns = _SCHEMA[table]
        self.fmt = fmt
        fields = []
        for name, kind in self.columns:
            if kind == "ts":
                typ = pa.timestamp("s") if fmt == "parquet" else pa.string()
            else:
                typ = _PA_TYPES[kind]
            fields.append(pa.field(name, typ))
        self.schema = pa.schema(fields)
        self.rows = 0
        if fmt == "csv":
            self._file = pa.OSFile(str(path), "wb")
            self._file.write((",".join(c for c, _ in self.columns) + "\n").encode("utf-8"))
            self._options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536)
        else:
            self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, columns: dict[str, object]) -> None:
        arrays = []
        for field in self.schema:
            value = columns[field.name]
            arr = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(value)
            arrays.append(arr.cast(field.type) if arr.type != field.type else arr)
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        if self.fmt == "csv":
            pacsv.write_csv(table, self._file, self._options)
        else:
            self._writer.write_table(table, row_group_size=_CHUNK_ROWS)

    def close(self) -> None:
        if self.fmt == "csv":
            self._file.close()
        else:
            self._writer.close()


# ---------------------------------------------------------------------------
# The world: agents, calendar, presence
# ---------------------------------------------------------------------------
def default_ticket_count(agents: int, start: date, end: date) -> int:
    """About seven tickets per agent per working day of the period."""
    days = np.arange(_day(start), _day(end) + 1)
    weekdays = int((_weekday(days) < 5).sum())
    return max(1, int(round(agents * max(weekdays, 1) * 7.0)))


def _cycle_name(start: date, end: date) -> str:
    last_of_month = (date(end.year + (end.month == 12), end.month % 12 + 1, 1) - timedelta(days=1))
    if start.day == 1 and end == last_of_month:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if months == 12 and start.month == 1:
            return f"{start.year}"
        if months == 6 and start.month in (1, 7):
            return f"{start.year}-H{1 if start.month == 1 else 2}"
        if months == 3 and start.month in (1, 4, 7, 10):
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        if months == 1:
            return f"{start:%Y-%m}"
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


class _World:
    """Everything the tables share: calendar, agents, presence and load."""

    def __init__(self, rng: np.random.Generator, agents: int, start: date, end: date, zone_name: str):
        self.start = _day(start)
        self.end = _day(end)
        self.period_days = self.end - self.start + 1
        self.scale = self.period_days / 91.0
        # Calendar of the tickets: a few days before and after the period too
        # (an export never lines up exactly with the cycle).
        self.t_first = self.start - 3
        self.t_last = self.end + 2
        self.export_local = (self.end + 4) * _SECONDS_PER_DAY + 9 * 3600
        self.zone = _Zone(zone_name, self.start - 130, self.end + 40)
        self.export_utc = int(self.zone.to_utc(np.array([self.export_local]))[0])
        self._agents(rng, agents)
        self._presence(rng)

    # -- agents -----------------------------------------------------------
    def _agents(self, rng: np.random.Generator, n: int) -> None:
        n_teams = min(len(TEAMS), max(3, int(round(n / 16))))
        self.teams = tuple(sorted(TEAMS[:n_teams]))
        share = rng.dirichlet(np.full(n_teams, 6.0))
        team = np.concatenate([np.arange(n_teams), _categorical(rng, share, n - n_teams)])
        team = team[rng.permutation(n)]

        # Roster changes: late hires (very few tickets), hires and leavers
        # during the period, one long-gone leaver, a few agents without timelog.
        order = rng.permutation(n)
        wanted = [2, max(1, int(round(0.04 * n))), max(1, int(round(0.03 * n))), 1 if n >= 20 else 0,
                  max(2, int(round(0.02 * n)))]
        budget = n - max(3, n // 2)  # at least half the roster is plainly employed all period
        sizes = []
        for k in wanted:  # five roster groups
            sizes.append(min(k, budget))
            budget -= sizes[-1]
        cuts = np.cumsum(sizes)
        late, mid, left, gone, notl = np.split(order[: cuts[-1]], cuts[:-1])

        hired = self.start - rng.integers(20, 6 * 365, n)
        hired[late] = self.end - rng.integers(2, 6, len(late))
        hired[mid] = self.start + rng.integers(5, max(6, int(0.6 * self.period_days)), len(mid))
        left_on = np.full(n, -1, dtype=np.int64)
        left_on[left] = self.start + rng.integers(10, max(11, self.period_days - 5), len(left))
        left_on[gone] = self.start - rng.integers(10, 60, len(gone))
        hired[gone] = np.minimum(hired[gone], left_on[gone] - 200)

        level = _categorical(rng, [0.38, 0.42, 0.20], n)
        in_period = hired >= self.start
        level[in_period] = _categorical(rng, [0.8, 0.2, 0.0], int(in_period.sum()))
        established = np.flatnonzero(~in_period & (left_on < 0))
        if n >= 12 and (level[established] == 2).sum() < 3:
            level[established[:3]] = 2

        role = team.copy()
        cross = rng.random(n) < 0.12
        role[cross] = rng.integers(0, n_teams, int(cross.sum()))
        no_timelog = np.zeros(n, dtype=bool)
        no_timelog[notl] = True

        names = self._names(rng, n)
        speed = _LEVEL_SPEED[level] * rng.lognormal(0.0, 0.15, n)
        quality = _LEVEL_QUALITY[level] + rng.normal(0.0, 0.3, n)
        escalation = np.clip(_LEVEL_ESCALATION[level] * rng.lognormal(0.0, 0.2, n), 0.01, 0.5)
        load = _LEVEL_LOAD[level] * rng.lognormal(0.0, 0.2, n)
        cost = (np.round(_LEVEL_COST[level] * rng.lognormal(0.0, 0.08, n) / 100.0) * 100).astype(np.int64)

        # Agent ids follow the order of hiring.
        by_hire = np.lexsort((np.arange(n), hired))
        self.n = n
        self.team = team[by_hire]
        self.level = level[by_hire]
        self.role = role[by_hire]
        self.hired = hired[by_hire]
        self.left = left_on[by_hire]
        self.no_timelog = no_timelog[by_hire]
        self.names = names.take(pa.array(by_hire))
        self.speed = speed[by_hire]
        self.quality = quality[by_hire]
        self.escalation = escalation[by_hire]
        self.load = load[by_hire]
        self.cost = cost[by_hire]
        self.ids = _ids("A", np.arange(1, n + 1), _width(n))
        self.last_day = np.where(self.left < 0, np.iinfo(np.int64).max, self.left)

    @staticmethod
    def _names(rng: np.random.Generator, n: int) -> pa.Array:
        surnames, given = _strings(_SURNAMES), _strings(_GIVEN + [""])
        blank = len(_GIVEN)
        found: list[str] = []
        seen: set[str] = set()
        while len(found) < n:  # a couple of rounds at most
            m = 3 * (n - len(found)) + 16
            s = rng.integers(0, len(_SURNAMES), m)
            g1 = rng.integers(0, len(_GIVEN), m)
            g2 = np.where(rng.random(m) < 0.3, blank, rng.integers(0, len(_GIVEN), m))
            batch = pc.binary_join_element_wise(_take(surnames, s), _take(given, g1), _take(given, g2), "")
            fresh = pd.unique(np.asarray(batch.to_pylist(), dtype=object))
            for name in fresh:  # bounded by the number of agents
                if name not in seen:
                    seen.add(name)
                    found.append(name)
        return _strings(found[:n])

    def employed(self, days: np.ndarray) -> np.ndarray:
        """(days × agents) bool: employed on that day."""
        d = np.asarray(days)[:, None]
        return (self.hired[None, :] <= d) & (d <= self.last_day[None, :])

    # -- presence and ticket load ------------------------------------------
    def _presence(self, rng: np.random.Generator) -> None:
        days = np.arange(self.t_first, self.t_last + 1)
        wd = _weekday(days)
        employed = self.employed(days)
        weekday = (wd < 5)[:, None]
        u = rng.random(employed.shape)
        present = employed & np.where(weekday, u >= 0.04, u < 0.22)
        nobody = ~present.any(axis=1)
        present[nobody] = employed[nobody]
        tenure = days[:, None] - self.hired[None, :]
        ramp = np.where(tenure < 10, 0.3, np.where(tenure < 30, 0.7, 1.0))
        self.days = days
        self.present = present
        self.employed_t = employed
        self.assign = _RowSampler(present * ramp * self.load[None, :])
        volume = _DAY_FACTOR[wd] * employed.sum(axis=1) * present.any(axis=1)
        self.day_p = volume / volume.sum()
        frac = np.clip((days - self.start) / max(self.period_days - 1, 1), 0.0, 1.0)[:, None]
        self.channel = _RowSampler(_CHANNEL_MIX_START[None, :] * (1 - frac) + _CHANNEL_MIX_END[None, :] * frac)

    def author_sampler(self, first_day: int, last_day: int) -> tuple[_RowSampler, int]:
        days = np.arange(first_day, last_day + 1)
        weight = self.employed(days) * np.array([0.7, 1.3, 2.0])[self.level][None, :]
        return _RowSampler(weight), first_day


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
def _agents_table(w: _World) -> dict:
    return {
        "agent_id": w.ids,
        "name": w.names,
        "team": _take(w.teams, w.team),
        "level": _take(LEVELS, w.level),
        "role": _take(w.teams, w.role),
        "hired_on": _dates(w.hired),
        "left_on": _dates(np.maximum(w.left, 0), mask=w.left < 0),
        "cost_per_month": w.cost,
    }


def _incidents(rng: np.random.Generator, w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Outages as (start, end) UTC seconds, sorted; the first crosses the period start."""
    k = max(3, int(round(w.period_days / 20)))
    local_start = w.start * _SECONDS_PER_DAY
    starts = local_start + rng.integers(3600, w.period_days * _SECONDS_PER_DAY - 7200, k - 1)
    minutes = np.clip(rng.lognormal(np.log(25.0), 0.9, k - 1), 3, 600)
    starts = np.concatenate([[local_start - 35 * 60], starts])
    ends = np.concatenate([[local_start + 20 * 60], starts[1:] + np.round(minutes * 60).astype(np.int64)])
    order = np.argsort(starts, kind="stable")
    return w.zone.to_utc(starts[order]), w.zone.to_utc(ends[order])


def _incidents_table(w: _World, inc: tuple[np.ndarray, np.ndarray], fmt: str) -> dict:
    starts, ends = inc
    return {
        "incident_id": _ids("INC", np.arange(1, len(starts) + 1), 3),
        "started_at": _timestamps(w.zone, starts, None, fmt),
        "ended_at": _timestamps(w.zone, ends, None, fmt),
    }


class _Customers:
    def __init__(self, rng: np.random.Generator, tickets: int):
        self.n = int(np.clip(round(tickets / 25), 40, 400_000))
        weight = 1.0 / np.arange(1, self.n + 1) ** 0.85
        weight = weight[rng.permutation(self.n)]
        self.cum = np.cumsum(weight / weight.sum())
        self.cum[-1] = 1.0
        self.ids = _ids("C", np.arange(1, self.n + 1), _width(self.n, 5))

    def draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, rng.random(m), side="right"), self.n - 1)


def _ticket_chunk(rng: np.random.Generator, w: _World, customers: _Customers, inc, day_index: np.ndarray,
                  counts: np.ndarray, first: int, id_width: int, survey_first: int, fmt: str
                  ) -> tuple[dict, dict, dict]:
    """Tickets created on the given days (indexes into w.days), plus their handoffs and surveys."""
    n = int(counts.sum())
    d = np.repeat(day_index, counts)
    wd = _weekday(w.days[d])
    u = rng.random(n)
    hour = np.where(wd < 5, np.searchsorted(np.cumsum(_HOURS_WEEKDAY) / _HOURS_WEEKDAY.sum(), u, side="right"),
                    np.searchsorted(np.cumsum(_HOURS_WEEKEND) / _HOURS_WEEKEND.sum(), u, side="right"))
    hour = np.minimum(hour, 23)
    local = w.days[d] * _SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(local, kind="stable")
    local, d, hour, wd = local[order], d[order], hour[order], wd[order]

    agent = w.assign(d, rng.random(n))
    channel = w.channel(d, rng.random(n))
    customer = customers.draw(rng, n)
    created = w.zone.to_utc(local)

    in_incident = np.zeros(n, dtype=bool)
    for s, e in zip(*inc):  # a handful of outages
        in_incident |= (created >= s) & (created <= e + 3600)
    escalated = rng.random(n) < np.where(in_incident, 0.35, w.escalation[agent])
    product = rng.random(n) < np.where(in_incident, 0.85, np.where(escalated, 0.55, 0.05))

    off_hours = (hour < 9) | (hour >= 21) | (wd >= 5)
    first_s = rng.lognormal(np.log(_FIRST_RESPONSE_MEDIAN_S[channel]), 0.8) * np.where(off_hours, 4.0, 1.0)
    first_s = np.clip(np.round(first_s), 5, 20 * 3600).astype(np.int64)
    wait = np.round(first_s * rng.uniform(0.3, 0.9, n)).astype(np.int64)
    mu = np.log(_RESOLUTION_MEDIAN_H[channel] * 3600 * w.speed[agent]) + 1.0 * escalated + 0.4 * product
    resolve_s = np.round(rng.lognormal(mu, 1.0)).astype(np.int64)
    resolve_s = np.maximum(resolve_s, first_s + rng.integers(60, 900, n))
    first_at = created + first_s
    resolved_at = created + resolve_s
    resolved = (rng.random(n) >= 0.04 + 0.06 * escalated) & (resolved_at <= w.export_utc)

    reopened = np.where(rng.random(n) < 0.05 + 0.06 * product + 0.02 * np.maximum(w.quality[agent], 0),
                        np.where(rng.random(n) < 0.8, 1, 2), 0)
    reopened = np.where(resolved, reopened, 0).astype(np.int64)
    confirm = np.minimum(rng.lognormal(np.log(18 * 3600), 0.9, n), 72 * 3600)
    confirm += reopened * rng.lognormal(np.log(30 * 3600), 0.7, n)
    closed_at = resolved_at + np.round(confirm).astype(np.int64)
    closed = resolved & (closed_at <= w.export_utc)

    hours = resolve_s / 3600.0
    rated = rng.random(n) < _RATED_P[channel] * np.where(resolved, 1.0, 0.2)
    logit = (-3.0 + w.quality[agent] + 1.6 * product + 1.0 * (reopened > 0) + 0.8 * (hours > 24)
             + 1.0 * ~resolved)
    p_bad = 1.0 / (1.0 + np.exp(-logit))
    r = rng.random(n)
    rating = np.where(r < p_bad, 2, np.where(r < p_bad + 0.12, 1, 0))  # 0 good, 1 neutral, 2 bad
    bad = rated & (rating == 2)
    cause = np.where(product, _categorical(rng, [0.7, 0.2, 0.1], n), _categorical(rng, [0.2, 0.65, 0.15], n))
    csat_good = np.where(rng.random(n) < 0.7, 5, 4)
    csat_neutral = np.array([3, 4, 2])[_categorical(rng, [0.6, 0.25, 0.15], n)]
    csat_bad = np.where(rng.random(n) < 0.6, 1, 2)
    csat = np.select([rating == 0, rating == 1], [csat_good, csat_neutral], csat_bad)
    handle = rng.lognormal(np.log(_HANDLE_MEDIAN_MIN[channel]) + 0.5 * np.log(w.speed[agent]) + 0.35 * escalated,
                           0.55)
    handle = np.round(np.clip(handle, 1.0, 600.0), 1)
    mode = _categorical(rng, [0.98, 0.01, 0.01], n)

    number = first + np.arange(n)
    ticket_ids = _ids("T", number + 1, id_width)
    tickets = {
        "ticket_id": ticket_ids,
        "customer_id": customers.ids.take(pa.array(customer)),
        "channel": _take(CHANNELS, channel),
        "created_at": _timestamps(w.zone, created, None, fmt, mode),
        "first_response_at": _timestamps(w.zone, first_at, None, fmt, mode),
        "resolved_at": _timestamps(w.zone, resolved_at, resolved, fmt, mode),
        "closed_at": _timestamps(w.zone, closed_at, closed, fmt, mode),
        "assignee": w.ids.take(pa.array(agent)),
        "reopened": reopened,
        "escalated": pa.array(escalated),
        "product_issue": pa.array(product),
        "rating": _take(("good", "neutral", "bad"), rating, ~rated),
        "csat": pa.array(csat.astype(np.int64), mask=~rated),
        "bad_review_cause": _take(("product", "service", ""), cause, ~bad | (cause == 2)),
        "handle_minutes": handle,
        "wait_seconds": wait,
    }

    # Handoffs: ~11 % of tickets, more when escalated; a colleague on duty that day.
    has = rng.random(n) < np.where(escalated, 0.3, 0.09)
    rows = np.flatnonzero(has)
    m = len(rows)
    c1 = w.assign(d[rows], rng.random(m))
    c2 = w.assign(d[rows], rng.random(m))
    mate = np.where(c1 == agent[rows], c2, c1)
    keep = mate != agent[rows]
    rows, mate = rows[keep], mate[keep]
    m = len(rows)
    span = np.where(resolved[rows], resolve_s[rows], np.minimum(2 * _SECONDS_PER_DAY, w.export_utc - created[rows]))
    two = rng.random(m) < 0.2
    inward = rng.random(m) < 0.75
    at1 = created[rows] + np.round(span * rng.uniform(0.05, 0.5, m)).astype(np.int64)
    at2 = created[rows] + np.round(span * rng.uniform(0.55, 0.95, m)).astype(np.int64)
    own = agent[rows]
    h_row = np.concatenate([rows, rows[two]])
    h_from = np.concatenate([np.where(inward & ~two, mate, own), mate[two]])
    h_to = np.concatenate([np.where(inward & ~two, own, mate), own[two]])
    h_at = np.concatenate([at1, at2[two]])
    h_order = np.lexsort((h_at, h_row))
    h_row, h_from, h_to, h_at = h_row[h_order], h_from[h_order], h_to[h_order], h_at[h_order]
    handoffs = {
        "ticket_id": ticket_ids.take(pa.array(h_row)),
        "from_agent": w.ids.take(pa.array(h_from)),
        "to_agent": w.ids.take(pa.array(h_to)),
        "at": _timestamps(w.zone, h_at, None, fmt),
    }

    # Surveys (NPS): ~8 % of resolved tickets get a 0-10 answer a few days later.
    s_rows = np.flatnonzero(resolved & (rng.random(n) < 0.08))
    k = len(s_rows)
    after = np.where(closed[s_rows], closed_at[s_rows], resolved_at[s_rows])
    answered = (w.zone.to_local(after) // _SECONDS_PER_DAY) + rng.integers(0, 5, k)
    level = np.where(rated[s_rows], csat[s_rows], 0)
    score_p = np.array([
        [1, 1, 1, 2, 2, 4, 6, 10, 14, 16, 13],   # no csat given
        [10, 9, 8, 5, 3, 1, 1, 0.5, 0.2, 0.1, 0.1],
        [3, 4, 6, 8, 9, 8, 5, 3, 1, 0.5, 0.2],
        [0.2, 0.5, 1, 3, 7, 12, 14, 10, 5, 2, 1],
        [0.1, 0.1, 0.2, 0.5, 1, 3, 8, 16, 20, 10, 6],
        [0.1, 0.1, 0.1, 0.2, 0.4, 1, 2, 6, 14, 24, 30],
    ])
    score = _RowSampler(score_p)(level, rng.random(k))
    named = rng.random(k) < 0.85
    surveys = {
        "response_id": _ids("R", survey_first + np.arange(1, k + 1), id_width),
        "customer_id": customers.ids.take(pa.array(customer[s_rows])),
        "answered_on": _dates(answered),
        "score": score.astype(np.int64),
        "agent_id": w.ids.take(pa.array(agent[s_rows], mask=~named)),
    }
    return tickets, handoffs, surveys


def _timelog(rng: np.random.Generator, w: _World, first: int, last: int) -> dict:
    """Agents [first, last): per present day in the period, hours by activity summing to ~8."""
    in_period = (w.days >= w.start) & (w.days <= w.end)
    days = w.days[in_period]
    present = w.present[in_period][:, first:last].T  # agents × days
    present &= ~w.no_timelog[first:last, None]
    present &= rng.random(present.shape) >= 0.02  # forgot to log
    a_idx, d_idx = np.nonzero(present)  # agent-major, then date
    m = len(a_idx)
    level = w.level[first + a_idx]
    weekend = _weekday(days[d_idx]) >= 5
    base = np.array([
        # online_support, training, review, tool_dev, tool_bugfix, non_support
        [0.74, 0.08, 0.03, 0.03, 0.04, 0.08],  # P2
        [0.66, 0.06, 0.06, 0.07, 0.06, 0.09],  # P3
        [0.52, 0.05, 0.12, 0.12, 0.08, 0.11],  # P4
    ])
    alpha = base[level] * 25.0
    alpha[weekend] = np.array([0.9, 0.01, 0.01, 0.01, 0.02, 0.05]) * 25.0
    share = rng.gamma(alpha)
    share /= share.sum(axis=1, keepdims=True)
    total = np.clip(rng.normal(8.0, 0.6, m), 5.0, 11.0)
    hours = np.round(share * total[:, None] * 4.0) / 4.0  # quarter hours
    keep = hours > 0
    rows, act = np.nonzero(keep)
    return {
        "agent_id": w.ids.take(pa.array(first + a_idx[rows])),
        "date": _dates(days[d_idx[rows]]),
        "activity": _take(ACTIVITIES, act),
        "hours": hours[rows, act],
    }


def _pick_people(rng: np.random.Generator, sampler: _RowSampler, rows: np.ndarray, counts: np.ndarray,
                 most: int) -> np.ndarray:
    """(len(rows) × most) distinct agent picks from a row sampler; -1 where unused."""
    m = len(rows)
    picks = np.stack([sampler(rows, rng.random(m)) for _ in range(most)], axis=1)
    picks[np.arange(most)[None, :] >= counts[:, None]] = -1
    return _distinct_picks(picks)


def _people_list(w: _World, picks: np.ndarray) -> pa.Array:
    parts = [w.ids.take(pa.array(np.maximum(picks[:, j], 0), mask=picks[:, j] < 0)) for j in range(picks.shape[1])]
    return _join_lists(*parts)


def _dated_in_period(rng: np.random.Generator, w: _World, m: int, before_share: float, before_days: int
                     ) -> np.ndarray:
    day = w.start + rng.integers(0, w.period_days, m)
    early = rng.random(m) < before_share
    day[early] = w.start - rng.integers(1, before_days + 1, int(early.sum()))
    return np.sort(day, kind="stable")


def _knowledge(rng: np.random.Generator, w: _World, fmt: str) -> tuple[dict, dict]:
    m = max(5, int(round(w.n * w.scale * 1.6)))
    published = _dated_in_period(rng, w, m, 0.07, 60)
    sampler, day0 = w.author_sampler(w.start - 60, w.end)
    authors = _pick_people(rng, sampler, published - day0, 1 + _categorical(rng, [0.6, 0.3, 0.1], m), 3)
    kinds = ("faq", "sop", "case", "best_practice")
    kind = _categorical(rng, [0.4, 0.2, 0.3, 0.1], m)
    prefix = _take([_KNOWLEDGE_PREFIX[k] for k in kinds], kind)
    product = pc.binary_join_element_wise(prefix, _take(_PRODUCTS, rng.integers(0, len(_PRODUCTS), m)), "")
    title = pc.binary_join_element_wise(product, _take(_SYMPTOMS, rng.integers(0, len(_SYMPTOMS), m)), " ")
    views = np.round(rng.lognormal(np.log(np.array([220.0, 90.0, 140.0, 160.0])[kind]), 1.0)).astype(np.int64)
    citations = rng.poisson(views * 0.03)
    knowledge = {
        "item_id": _ids("K", np.arange(1, m + 1), _width(m, 4)),
        "kind": _take(kinds, kind),
        "title": title,
        "authors": _people_list(w, authors),
        "published_on": _dates(published),
        "views": views,
        "citations": citations.astype(np.int64),
    }

    # Grades: a panel of 3-5 senior agents (never an author of the item).
    employed_any = (w.hired <= w.end) & (w.last_day >= w.start)
    pool = np.flatnonzero(employed_any & (w.level == 2))
    if len(pool) < 6:
        pool = np.flatnonzero(employed_any & (w.level >= 1))
    p = len(pool)
    panel = np.minimum(3 + _categorical(rng, [0.5, 0.3, 0.2], m), p)
    if p <= 64:
        cand = np.argsort(rng.random((m, p)), axis=1)
    else:
        cand = _distinct_picks(rng.integers(0, p, (m, 16)))
    member = np.where(cand >= 0, pool[np.maximum(cand, 0)], -1)
    valid = (member >= 0) & ~(member[:, :, None] == np.where(authors >= 0, authors, -2)[:, None, :]).any(axis=2)
    graded = rng.random(m) >= 0.1
    chosen = valid & (np.cumsum(valid, axis=1) <= panel[:, None]) & graded[:, None]
    item, slot = np.nonzero(chosen)
    panelist = member[item, slot]
    quality = _categorical(rng, [0.1, 0.3, 0.4, 0.2], m)  # S, A, B, C
    shift = np.array([-1, 0, 1, 2])[_categorical(rng, [0.12, 0.72, 0.13, 0.03], len(item))]
    grade = np.clip(quality[item] + shift, 0, 3)
    g_day = published[item] + rng.integers(1, 22, len(item))
    g_local = g_day * _SECONDS_PER_DAY + rng.integers(9 * 3600, 19 * 3600, len(item))
    done = g_day <= w.end + 3  # the rest is still with the panel at export time
    item, panelist, grade, g_local = item[done], panelist[done], grade[done], g_local[done]
    order = np.lexsort((panelist, item))
    item, panelist, grade, g_local = item[order], panelist[order], grade[order], g_local[order]
    letters = ("S", "A", "B", "C")
    comment_vocab = [c for g in letters for c in _COMMENTS[g]]
    comment = grade * 3 + rng.integers(0, 3, len(item))
    grades = {
        "item_id": knowledge["item_id"].take(pa.array(item)),
        "panelist": w.ids.take(pa.array(panelist)),
        "grade": _take(letters, grade),
        "graded_at": _timestamps(w.zone, w.zone.to_utc(g_local), None, fmt),
        "comment": _take(comment_vocab, comment, rng.random(len(item)) < 0.3),
    }
    return knowledge, grades


def _requirements(rng: np.random.Generator, w: _World) -> dict:
    m = max(5, int(round(w.n * w.scale * 0.7)))
    submitted = _dated_in_period(rng, w, m, 0.05, 45)
    sampler, day0 = w.author_sampler(w.start - 45, w.end)
    submitter = sampler(submitted - day0, rng.random(m))
    kano = _categorical(rng, [0.3, 0.35, 0.15, 0.15, 0.05], m)
    share = np.round(rng.beta(0.9, 2.2, m), 2)
    share[rng.random(m) < 0.06] = 1.0
    status = _categorical(rng, [0.3, 0.25, 0.3, 0.15], m)  # landed, accepted, open, rejected
    landed_on = submitted + rng.integers(7, 76, m)
    late = (status == 0) & (landed_on > w.end + 3)
    status[late] = 1
    title = pc.binary_join_element_wise(_take(_PRODUCTS, rng.integers(0, len(_PRODUCTS), m)),
                                        _take(_FEATURES, rng.integers(0, len(_FEATURES), m)), " ")
    return {
        "requirement_id": _ids("REQ", np.arange(1, m + 1), _width(m, 4)),
        "title": title,
        "submitter": w.ids.take(pa.array(submitter)),
        "submitted_on": _dates(submitted),
        "kano": _take(("basic", "performance", "excitement", "indifferent", "reverse"), kano),
        "impact_share": share,
        "status": _take(("landed", "accepted", "open", "rejected"), status),
        "landed_on": _dates(landed_on, mask=status != 0),
    }


def _innovations(rng: np.random.Generator, w: _World) -> dict:
    m = max(3, int(round(w.n * w.scale * 0.15)))
    day = _dated_in_period(rng, w, m, 0.1, 60)
    sampler, day0 = w.author_sampler(w.start - 60, w.end)
    owners = _pick_people(rng, sampler, day - day0, 1 + _categorical(rng, [0.5, 0.3, 0.15, 0.05], m), 4)
    kinds = ("patent", "book", "article", "contest", "other")
    kind = _categorical(rng, [0.1, 0.03, 0.4, 0.22, 0.25], m)
    titles = [t for k in kinds for t in _INNOVATION_TITLES[k]]
    base = np.cumsum([0] + [len(_INNOVATION_TITLES[k]) for k in kinds])
    sizes = np.diff(base)
    title = base[kind] + np.floor(rng.random(m) * sizes[kind]).astype(np.int64)
    honor = _categorical(rng, [0.45, 0.3, 0.15, 0.07, 0.03], m)
    return {
        "innovation_id": _ids("INV", np.arange(1, m + 1), 3),
        "kind": _take(kinds, kind),
        "title": _take(titles, title),
        "owners": _people_list(w, owners),
        "honor": _take(("team", "company", "industry", "national", "international"), honor),
        "recognized_on": _dates(day),
    }


def _influence(rng: np.random.Generator, w: _World, customers: _Customers) -> dict:
    m = max(5, int(round(w.n * w.scale * 0.6)))
    day = _dated_in_period(rng, w, m, 0.05, 30)
    sampler, day0 = w.author_sampler(w.start - 30, w.end)
    owners = _pick_people(rng, sampler, day - day0, 1 + _categorical(rng, [0.6, 0.3, 0.1], m), 3)
    kinds = ("onsite", "diagnosis", "tuning", "training", "thanks_letter")
    kind = _categorical(rng, [0.2, 0.25, 0.2, 0.15, 0.2], m)
    paid_p = np.array([0.6, 0.2, 0.4, 0.7, 0.0])[kind]
    median = np.array([30000.0, 8000.0, 20000.0, 15000.0, 1.0])[kind]
    revenue = np.where(rng.random(m) < paid_p, np.round(rng.lognormal(np.log(median), 0.6) / 100.0) * 100, 0)
    return {
        "record_id": _ids("INF", np.arange(1, m + 1), _width(m, 4)),
        "kind": _take(kinds, kind),
        "owners": _people_list(w, owners),
        "customer_id": customers.ids.take(pa.array(customers.draw(rng, m))),
        "revenue": revenue.astype(np.int64),
        "date": _dates(day),
    }


def _interceptions(rng: np.random.Generator, w: _World, tickets: int) -> dict:
    days = np.arange(w.start, w.end + 1)
    t = len(w.teams)
    team_share = np.bincount(w.team, minlength=t) / w.n
    day_tickets = tickets * w.day_p[(days - w.t_first)]
    # (kind, tool, team) combinations in sorted order; team -1 = org-wide.
    combos = ([("smart", "chatbot", i) for i in range(t)] + [("tool", "config-checker", -1)]
              + [("tool", "log-analyzer", i) for i in range(t)] + [("tool", "self-diagnosis", i) for i in range(t)])
    kind = np.array([0 if k == "smart" else 1 for k, _, _ in combos])
    tools = ("chatbot", "config-checker", "log-analyzer", "self-diagnosis")
    tool = np.array([tools.index(x) for _, x, _ in combos])
    team = np.array([x for _, _, x in combos])
    volume = np.array([1.5, 0.25, 0.3, 0.2])[tool] * np.where(team >= 0, team_share[np.maximum(team, 0)], 1.0)
    rate0 = np.array([0.30, 0.18, 0.22, 0.15])[tool] + rng.normal(0, 0.03, len(combos))
    c = len(combos)
    lam = day_tickets[:, None] * volume[None, :] + 1.0
    inquiries = rng.poisson(lam)
    frac = ((days - w.start) / max(w.period_days - 1, 1))[:, None]
    rate = np.clip(rate0[None, :] + 0.1 * frac, 0.01, 0.95)
    intercepted = rng.binomial(inquiries, rate)
    dd = np.repeat(days, c)
    ci = np.tile(np.arange(c), len(days))
    return {
        "date": _dates(dd),
        "kind": _take(("smart", "tool"), kind[ci]),
        "tool": _take(tools, tool[ci]),
        "inquiries": inquiries.ravel().astype(np.int64),
        "intercepted": intercepted.ravel().astype(np.int64),
        "team": _take(w.teams, np.maximum(team[ci], 0), team[ci] < 0),
    }


def _costs(rng: np.random.Generator, w: _World) -> dict:
    first = pd.Timestamp(w.start, unit="D")
    last = pd.Timestamp(w.end, unit="D")
    months = pd.period_range(first, last, freq="M")
    t = len(w.teams)
    out_month, out_team, out_amount = [], [], []
    for month in months:  # a handful of months
        m_days = np.arange(_day(month.start_time.date()), _day(month.end_time.date()) + 1)
        employed = w.employed(m_days).mean(axis=0)  # fraction of the month employed
        salary = np.bincount(w.team, weights=employed * w.cost, minlength=t)
        tooling = np.round(rng.uniform(15000, 40000, t) / 100) * 100
        out_month += [str(month)] * t
        out_team += list(range(t))
        out_amount.append(np.round(salary * 1.35 + tooling, 2))
    return {
        "month": _strings(out_month),
        "team": _take(w.teams, np.array(out_team, dtype=np.int64)),
        "amount": np.concatenate(out_amount),
    }


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------
def _check(agents: int, tickets: int | None, start: date, end: date, timezone: str, fmt: str) -> None:
    if agents < 3:
        raise MeritError(f"the demo needs at least 3 agents, one per team (got {agents})", field="agents")
    if tickets is not None and tickets < 0:
        raise MeritError(f"the number of tickets cannot be negative (got {tickets})", field="tickets")
    if end < start:
        raise MeritError(f"period end {end} is before its start {start}", field="end")
    if (end - start).days > 3 * 366:
        raise MeritError("the demo period is limited to three years", field="end")
    if fmt not in ("csv", "parquet"):
        raise MeritError(f"unknown data format '{fmt}'", field="fmt", expected="csv or parquet")
    try:
        pd.Timestamp("2026-01-01").tz_localize(timezone)
    except Exception:
        raise MeritError(f"unknown time zone '{timezone}'", field="timezone",
                         expected="an IANA name such as Asia/Shanghai or UTC") from None


def generate_workspace(root: Path, *, agents: int = 48, tickets: int | None = None, seed: int = 7,
                       start: date = date(2026, 7, 1), end: date = date(2026, 9, 30),
                       timezone: str = "Asia/Shanghai", name: str | None = None,
                       fmt: str = "csv", progress: Progress | None = None) -> Path:
    """Write a synthetic performance-cycle workspace into ``root`` and return it.

    ``root/cycle.yaml`` and ``root/data/<table>.<fmt>`` for every table of the
    input contract.  ``tickets=None`` picks about seven tickets per agent per
    working day of the period.  The same arguments give byte-identical files.
    Existing data files of the same table names (in any format) are replaced;
    nothing else in ``root`` is touched.
    """
    _check(agents, tickets, start, end, timezone, fmt)
    report = progress or (lambda step, fraction: None)
    root = Path(root)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    n_tickets = default_ticket_count(agents, start, end) if tickets is None else int(tickets)
    name = name or _cycle_name(start, end)

    seeds = np.random.SeedSequence(seed).spawn(12)
    rngs = [np.random.default_rng(s) for s in seeds]
    report("agents", 0.0)
    world = _World(rngs[0], agents, start, end, timezone)

    for table in _SCHEMA:
        for suffix in (".csv", ".parquet", ".xlsx"):
            stale = data / f"{table}{suffix}"
            if stale.exists():
                stale.unlink()

    def write(table: str, columns: dict) -> None:
        sink = _Sink(data / f"{table}.{fmt}", table, fmt)
        sink.write(columns)
        sink.close()

    write("agents", _agents_table(world))
    incidents = _incidents(rngs[1], world)
    write("incidents", _incidents_table(world, incidents, fmt))
    customers = _Customers(rngs[2], n_tickets)

    # Tickets, handoffs and surveys, one chunk of whole days at a time.
    counts = rngs[3].multinomial(n_tickets, world.day_p)
    chunks: list[np.ndarray] = []
    current: list[int] = []
    size = 0
    for i, c in enumerate(counts.tolist()):  # days of the period
        current.append(i)
        size += c
        if size >= _CHUNK_ROWS:
            chunks.append(np.array(current))
            current, size = [], 0
    if current:
        chunks.append(np.array(current))
    sinks = {t: _Sink(data / f"{t}.{fmt}", t, fmt) for t in ("tickets", "handoffs", "surveys")}
    id_width = _width(n_tickets, 6)
    done = 0
    try:
        for k, day_index in enumerate(chunks):
            report("tickets", 0.05 + 0.8 * done / max(n_tickets, 1))
            rng = np.random.default_rng([seed, 1000 + k])
            tickets, handoffs, surveys = _ticket_chunk(rng, world, customers, incidents, day_index,
                                                       counts[day_index], done, id_width,
                                                       sinks["surveys"].rows, fmt)
            sinks["tickets"].write(tickets)
            sinks["handoffs"].write(handoffs)
            sinks["surveys"].write(surveys)
            done += int(counts[day_index].sum())
    finally:
        for sink in sinks.values():
            sink.close()

    report("timelog", 0.86)
    sink = _Sink(data / f"timelog.{fmt}", "timelog", fmt)
    try:
        block = max(1, 2_000_000 // max(world.period_days * 6, 1))
        for k, first in enumerate(range(0, world.n, block)):  # blocks of agents
            rng = np.random.default_rng([seed, 2000 + k])
            sink.write(_timelog(rng, world, first, min(world.n, first + block)))
    finally:
        sink.close()

    report("knowledge", 0.92)
    knowledge, grades = _knowledge(rngs[4], world, fmt)
    write("knowledge", knowledge)
    write("grades", grades)
    report("requirements", 0.94)
    write("requirements", _requirements(rngs[5], world))
    write("innovations", _innovations(rngs[6], world))
    write("influence", _influence(rngs[7], world, customers))
    report("interceptions", 0.97)
    write("interceptions", _interceptions(rngs[8], world, n_tickets))
    write("costs", _costs(rngs[9], world))

    cycle = (
        f"# merit demo workspace: {agents} agents, {n_tickets} tickets, seed {seed}\n"
        f"name: {name}\n"
        f"period: {{start: {start.isoformat()}, end: {end.isoformat()}}}\n"
        f"timezone: {timezone}\n"
        f"ruleset: default\n"
        f"data: data\n"
    )
    (root / "cycle.yaml").write_text(cycle, encoding="utf-8")
    report("done", 1.0)
    return root
