"""Numbers, percentages, dates and money as people read them in a language, with Babel's
CLDR data (digits, grouping and decimal signs, currency symbols and date patterns per locale).

Values are rounded with Python's ``round`` first (the float's exact binary value, as ``f"{v:.1f}"``
rounds), so that every number merit prints rounds the same way in every language.  English keeps
merit's house style of a space before ``%`` ("40.0 %", as ISO 80000 writes it); Chinese follows
CLDR ("40.0%").  Dates use the pattern the catalogue gives for the msgid ``yyyy-MM-dd`` (a Babel
date pattern: the translator chooses how a date reads).
"""

from __future__ import annotations

import datetime as dt

from babel import numbers as babel_numbers
from babel.dates import format_date as babel_format_date

from merit.i18n import check_language, gettext_for, locale_name

SPACE_BEFORE_PERCENT = ("en",)  # merit's English style (kept from its first scorecards)


def _pattern(digits: int, group: bool = True) -> str:
    whole = "#,##0" if group else "0"
    return whole + ("." + "0" * digits if digits > 0 else "")


def format_decimal(value: float, language: str | None, digits: int = 2, group: bool = True) -> str:
    """*value* with exactly *digits* decimals and the locale's signs: 1234.5 -> "1,234.50"."""
    value = round(float(value), digits)
    return babel_numbers.format_decimal(value, format=_pattern(digits, group), locale=locale_name(language),
                                        decimal_quantization=True)


def format_integer(value: float, language: str | None) -> str:
    """A whole number with the locale's grouping: 12345 -> "12,345"."""
    return format_decimal(value, language, 0)


def format_signed(value: float, language: str | None, digits: int = 1) -> str:
    """A change with its sign: +1.5, -0.3, +0.0."""
    value = round(float(value), digits)
    text = format_decimal(abs(value), language, digits)
    sign = "-" if value < 0 else "+"
    return sign + text


def format_percent(fraction: float, language: str | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.4 -> "40.0 %" (en), "40.0%" (zh-CN)."""
    language = check_language(language)
    number = format_decimal(float(fraction) * 100, language, digits)
    symbol = babel_numbers.Locale.parse(locale_name(language)).number_symbols["latn"]["percentSign"]
    return f"{number} {symbol}" if language in SPACE_BEFORE_PERCENT else f"{number}{symbol}"


def format_percent_range(low: float, high: float, language: str | None, digits: int = 1) -> str:
    """An interval of fractions: "11.8–76.9 %" (one sign, at the end)."""
    language = check_language(language)
    lo = format_decimal(float(low) * 100, language, digits)
    return f"{lo}–{format_percent(high, language, digits)}"


def format_currency(value: float, code: str, language: str | None, digits: int | None = None) -> str:
    """Money in the currency *code* (ISO 4217, e.g. CNY): "¥1,234" (zh-CN), "CN¥1,234" (en).
    *digits*: decimals shown (None: the currency's own, 2 for CNY)."""
    locale = locale_name(language)
    if digits is None:
        return babel_numbers.format_currency(value, code, locale=locale)
    value = round(float(value), digits)
    pattern = babel_numbers.Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    pattern = pattern.replace("#,##0.00", _pattern(digits))
    return babel_numbers.format_currency(value, code, format=pattern, locale=locale, currency_digits=False)


def is_currency(code: str) -> bool:
    """Whether *code* is an ISO 4217 currency code Babel knows (CNY, USD, EUR, ...)."""
    return code in babel_numbers.list_currencies()


def currency_number_format(code: str, language: str | None, digits: int = 2) -> str:
    """An Excel number format showing the currency's symbol in *language*: '"¥"#,##0.00'."""
    symbol = babel_numbers.get_currency_symbol(code, locale=locale_name(language))
    return f'"{symbol}"{_pattern(digits)}'


def format_date(day: dt.date, language: str | None) -> str:
    """A date as the catalogue says dates read: "2024-03-31" (en), "2024年3月31日" (zh-CN)."""
    _ = gettext_for(language)
    # TRANSLATORS: a Babel (CLDR) date pattern, not a text: y year, M month, d day.
    pattern = _("yyyy-MM-dd")
    return babel_format_date(day, format=pattern, locale=locale_name(language))


def format_period(start: dt.date, end: dt.date, language: str | None) -> str:
    """A cycle's period: "2024-01-01 – 2024-03-31"."""
    return f"{format_date(start, language)} – {format_date(end, language)}"
