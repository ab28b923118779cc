"""The tenant schema refuses bad configuration with a message naming file, field and reason."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tenants.loader import ConfigError, load_preset_file, load_presets, validate_config
from tenants.schema import DigitsKind, Localized, TenantConfig

PRESET = Path("tenants/presets/ivanovo-water.toml")


def preset_data() -> dict:
    return tomllib.loads(PRESET.read_text(encoding="utf-8"))


def write_preset(directory: Path, text: str, name: str = "ivanovo-water") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_typo_in_a_key_names_the_file_and_the_field(tmp_path: Path) -> None:
    text = PRESET.read_text(encoding="utf-8").replace("[locales]", "[locale]", 1)
    path = write_preset(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_preset_file(path)
    message = str(raised.value)
    assert str(path) in message
    assert "locale: Extra inputs are not permitted" in message
    assert "locales: Field required" in message


def test_a_wrong_type_names_the_nested_field(tmp_path: Path) -> None:
    text = PRESET.read_text(encoding="utf-8").replace(
        "resend_after_seconds = 180", 'resend_after_seconds = "soon"'
    )
    with pytest.raises(ConfigError) as raised:
        load_preset_file(write_preset(tmp_path, text))
    assert raised.value.problems[0][0] == "recovery[0].resend_after_seconds"
    assert "integer" in raised.value.problems[0][1]


def test_broken_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_preset_file(write_preset(tmp_path, "slug = 'ivanovo-water\n"))
    assert "not valid TOML" in str(raised.value)


def test_slug_must_match_the_file_name(tmp_path: Path) -> None:
    path = write_preset(tmp_path, PRESET.read_text(encoding="utf-8"), name="other-name")
    with pytest.raises(ConfigError, match="differs from the file name"):
        load_preset_file(path)


def test_load_presets_stops_at_the_first_bad_file(tmp_path: Path) -> None:
    write_preset(tmp_path, PRESET.read_text(encoding="utf-8"))
    write_preset(tmp_path, "slug = 1\n", name="zz-broken")
    with pytest.raises(ConfigError) as raised:
        load_presets(tmp_path)
    assert "zz-broken.toml" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda d: d["locales"].update(default="kk"),
            "default locale 'kk' is not among the enabled",
        ),
        (lambda d: d.update(currency="ZZZ"), "not an ISO 4217 currency code"),
        (lambda d: d.update(timezone="Europe/Atlantis"), "not a known time zone"),
        (
            lambda d: d["sign_in"].update(identifiers=["nickname"]),
            "identifier 'nickname', which is not declared",
        ),
        (lambda d: d.update(account_identifier="nope"), "account_identifier 'nope'"),
        (lambda d: d["branding"].update(primary_colour="blue"), "String should match pattern"),
        (lambda d: d["registration"].update(flow="magic"), "Input should be"),
        (lambda d: d.update(modules=[*d["modules"], "teleport"]), "Input should be"),
        (lambda d: d.update(domains=["not a host"]), "String should match pattern"),
        # A flow confirmed by SMS whose form asks for no phone could never be finished.
        (
            lambda d: d["registration"]["variants"][0]["steps"][0].update(
                fields=[
                    f
                    for f in d["registration"]["variants"][0]["steps"][0]["fields"]
                    if f["name"] != "phone"
                ]
            ),
            "asks for no phone field",
        ),
        (
            lambda d: d["registration"]["variants"][0]["steps"][0].update(
                fields=[
                    f
                    for f in d["registration"]["variants"][0]["steps"][0]["fields"]
                    if f["type"] != "password"
                ]
            ),
            "asks for no password",
        ),
        (
            lambda d: d["recovery"][0].update(start_identifiers=["nickname"]),
            "recovery starts with identifier 'nickname'",
        ),
    ],
)
def test_semantic_errors_are_explained(change, reason: str) -> None:
    data = preset_data()
    change(data)
    with pytest.raises(ConfigError) as raised:
        validate_config(data, "edited.toml")
    assert reason in str(raised.value)


def test_flow_shape_is_checked() -> None:
    data = preset_data()
    data["registration"]["variants"] = []
    with pytest.raises(ConfigError, match="needs at least one variant"):
        validate_config(data, "x")


def test_digits_kind_takes_a_fixed_length_or_bounds() -> None:
    assert DigitsKind(kind="digits", length=11).bounds == (11, 11)
    assert DigitsKind(kind="digits", min_length=1, max_length=8).bounds == (1, 8)
    with pytest.raises(ValueError, match="either length"):
        DigitsKind(kind="digits", length=4, min_length=1, max_length=8)
    with pytest.raises(ValueError, match="prefix must be shorter"):
        DigitsKind(kind="digits", length=2, prefix="97")


def test_localized_text_falls_back_to_default_then_english() -> None:
    text = Localized.model_validate({"ru": "Счёт", "en": "Account"})
    assert text.get("ru") == "Счёт"
    assert text.get("kk", fallback="ru") == "Счёт"
    assert text.get("zh_Hans", fallback="xx") == "Account"


def test_configs_are_immutable() -> None:
    config = TenantConfig.model_validate(preset_data())
    with pytest.raises(ValueError):
        config.currency = "USD"  # type: ignore[misc]
