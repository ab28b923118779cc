"""Choosing a locale: switcher → saved preference → Accept-Language → tenant default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from web.i18n import match_locale, negotiate_locale, parse_accept_language

ALL = ["en", "zh_Hans", "ru", "kk"]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("ZH-cn", "zh_Hans"),
        ("zh_CN", "zh_Hans"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("ru-RU", "ru"),
        ("ru", "ru"),
        ("kk-KZ", "kk"),
        ("kk-Cyrl-KZ", "kk"),
        ("en-GB", "en"),
        ("fr", None),
        ("", None),
    ],
)
def test_match_locale(tag: str, expected: str | None) -> None:
    assert match_locale(tag, ALL) == expected


def test_quality_values_are_honoured_and_zero_excludes() -> None:
    assert parse_accept_language("ru;q=0.3, kk;q=0.9, en;q=0") == ["kk", "ru"]
    assert parse_accept_language("en, ru;q=0.5, kk") == ["en", "kk", "ru"]


@pytest.mark.parametrize("header", [";q=1", "ru;q=2", "ru;q=-1", "ru;q=abc", "@@@", ",,,", "ru;;;"])
def test_malformed_parts_are_skipped(header: str) -> None:
    assert parse_accept_language(header) in ([], ["ru"])


def test_order_of_sources() -> None:
    common = {"enabled": ["ru", "kk", "en"], "default": "ru"}
    assert (
        negotiate_locale(
            **common, explicit="kk", cookie="en", saved_preference="en", accept_language="en"
        )
        == "kk"
    )
    assert (
        negotiate_locale(**common, cookie="en", saved_preference="kk", accept_language="kk") == "en"
    )
    assert negotiate_locale(**common, saved_preference="kk", accept_language="en") == "kk"
    assert negotiate_locale(**common, accept_language="fr, kk-KZ;q=0.5") == "kk"
    assert negotiate_locale(**common, accept_language="fr") == "ru"
    assert negotiate_locale(**common, accept_language="*") == "ru"


def test_only_enabled_locales_are_chosen() -> None:
    chosen = negotiate_locale(
        enabled=["ru", "en"],
        default="ru",
        explicit="kk",
        cookie="zh_Hans",
        accept_language="kk, zh",
    )
    assert chosen == "ru"


@given(st.text(max_size=300))
def test_any_header_gives_an_enabled_locale(header: str) -> None:
    assert negotiate_locale(
        enabled=["zh_Hans", "en"], default="zh_Hans", accept_language=header
    ) in {"zh_Hans", "en"}
