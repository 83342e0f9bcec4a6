"""The demo's words and shapes: team names, Chinese names, products and symptoms for titles,
the daily and weekly rhythm of ticket volume, and what each level and channel is like."""

from __future__ import annotations

import numpy as np

from merit.demo.columns import drawn_values

TEAMS = ("android", "ios", "web", "server", "platform", "media", "database", "network", "cloud", "payments",
         "iot", "security")

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list(dict.fromkeys(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂玲华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣佳琳晨阳雪婷倩颖睿博"
    "文思雨嘉子梓轩然晓志海鹏辉晶慧莉萍红亮峰建国振成毅昊天一诗悦欢蕾菲薇琪瑶璐彤萱怡馨妍航铭哲皓晗泽逸锐楠"))

PRODUCTS = ("Android SDK", "iOS SDK", "Web SDK", "小程序 SDK", "服务端 API", "控制台", "消息推送", "音视频通话",
            "云端录制", "实时数据看板")
SYMPTOMS = ("初始化失败", "登录态失效", "推送消息延迟", "弱网下频繁断线", "回调未触发", "鉴权签名错误",
            "音视频卡顿", "录制文件缺失", "接口超时", "版本升级后崩溃", "证书配置错误", "计费数据不一致",
            "日志无法上传", "跨域请求被拒绝", "内存持续增长", "首帧加载慢")
FEATURES = ("支持断点续传", "增加错误码说明", "优化弱网重连", "提供批量导出", "支持自定义日志级别", "增加用量告警",
            "简化鉴权流程", "开放回调重试配置", "支持多区域部署", "提供一键诊断", "支持灰度发布", "提升并发上限")

# Hourly volume profiles (local time), weekday and weekend.
HOURS_WEEKDAY = np.array([0.15, 0.1, 0.08, 0.06, 0.06, 0.1, 0.25, 0.6, 1.4, 2.6, 3.0, 2.8,
                          1.8, 2.4, 2.9, 2.8, 2.6, 2.2, 1.5, 1.0, 0.9, 0.8, 0.5, 0.3])
HOURS_WEEKEND = np.array([0.2, 0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.3, 0.6, 0.9, 1.1, 1.1,
                          0.9, 1.0, 1.1, 1.1, 1.0, 0.9, 0.8, 0.8, 0.8, 0.7, 0.5, 0.3])
DAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.0, 0.95, 0.35, 0.3])  # Monday .. Sunday

# agents.level, junior to senior: share of the roster, share of the agents hired during the period,
# tickets taken per day (relative), resolution-time multiplier, bad-review log-odds offset,
# escalation rate, monthly cost, weight as an author of knowledge and requirements.
_LEVELS = {
    "P2": dict(share=0.38, hired_share=0.8, load=0.9, speed=1.3, quality=0.35, escalation=0.13, cost=18000,
               author=0.7),
    "P3": dict(share=0.42, hired_share=0.2, load=1.0, speed=1.0, quality=0.0, escalation=0.095, cost=26000,
               author=1.3),
    "P4": dict(share=0.20, hired_share=0.0, load=0.85, speed=0.75, quality=-0.45, escalation=0.06, cost=38000,
               author=2.0),
}
LEVELS = drawn_values("agents", "level", _LEVELS)
SENIOR = LEVELS.index("P4")  # the expert panel's level
LEVEL_SHARE = [_LEVELS[v]["share"] for v in LEVELS]
LEVEL_HIRED_SHARE = [_LEVELS[v]["hired_share"] for v in LEVELS]
LEVEL_LOAD = np.array([_LEVELS[v]["load"] for v in LEVELS])
LEVEL_SPEED = np.array([_LEVELS[v]["speed"] for v in LEVELS])
LEVEL_QUALITY = np.array([_LEVELS[v]["quality"] for v in LEVELS])
LEVEL_ESCALATION = np.array([_LEVELS[v]["escalation"] for v in LEVELS])
LEVEL_COST = np.array([_LEVELS[v]["cost"] for v in LEVELS])
LEVEL_AUTHOR = np.array([_LEVELS[v]["author"] for v in LEVELS])

# tickets.channel: the mix at the period's start and end (it drifts, IM grows and email shrinks,
# so that the plain FDR trend and the channel-standardised one differ: Simpson's paradox), median
# first response (s), resolution (h) and handling time (min), and the share of tickets rated.
_CHANNELS = {
    "im": dict(mix_start=0.30, mix_end=0.40, first_response_s=50.0, resolution_h=1.2, handle_min=14.0,
               rated=0.62),
    "phone": dict(mix_start=0.15, mix_end=0.14, first_response_s=25.0, resolution_h=0.8, handle_min=18.0,
                  rated=0.38),
    "email": dict(mix_start=0.18, mix_end=0.11, first_response_s=1800.0, resolution_h=8.0, handle_min=20.0,
                  rated=0.32),
    "ticket": dict(mix_start=0.27, mix_end=0.23, first_response_s=2400.0, resolution_h=12.0, handle_min=25.0,
                   rated=0.48),
    "wechat": dict(mix_start=0.10, mix_end=0.12, first_response_s=110.0, resolution_h=2.0, handle_min=12.0,
                   rated=0.58),
}
CHANNELS = drawn_values("tickets", "channel", _CHANNELS)
CHANNEL_MIX_START = np.array([_CHANNELS[c]["mix_start"] for c in CHANNELS])
CHANNEL_MIX_END = np.array([_CHANNELS[c]["mix_end"] for c in CHANNELS])
FIRST_RESPONSE_MEDIAN_S = np.array([_CHANNELS[c]["first_response_s"] for c in CHANNELS])
RESOLUTION_MEDIAN_H = np.array([_CHANNELS[c]["resolution_h"] for c in CHANNELS])
HANDLE_MEDIAN_MIN = np.array([_CHANNELS[c]["handle_min"] for c in CHANNELS])
RATED_P = np.array([_CHANNELS[c]["rated"] for c in CHANNELS])

# timelog.activity: the share of a day's hours for each level (P2, P3, P4) and on a weekend duty day.
_ACTIVITIES = {
    "online_support": (0.74, 0.66, 0.52, 0.9),
    "training": (0.08, 0.06, 0.05, 0.01),
    "review": (0.03, 0.06, 0.12, 0.01),
    "tool_dev": (0.03, 0.07, 0.12, 0.01),
    "tool_bugfix": (0.04, 0.06, 0.08, 0.02),
    "non_support": (0.08, 0.09, 0.11, 0.05),
}
ACTIVITIES = drawn_values("timelog", "activity", _ACTIVITIES)
ACTIVITY_SHARE_BY_LEVEL = np.array([[_ACTIVITIES[a][k] for a in ACTIVITIES] for k in range(len(LEVELS))])
ACTIVITY_SHARE_WEEKEND = np.array([_ACTIVITIES[a][len(LEVELS)] for a in ACTIVITIES])
