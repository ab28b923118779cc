"""Reading tenant configuration from preset files, with errors that name file, field and reason."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tenants.schema import TenantConfig

IDENTIFIER_KIND_TAGS = frozenset(
    {"digits", "prefixed", "legacy_login", "phone", "email", "login", "national_id"}
)
PRESETS = Path(__file__).resolve().parent / "presets"


class ConfigError(Exception):
    """A tenant configuration that cannot be used; `problems` are (field, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {where or '(top level)'}: {reason}" for where, reason in problems)
        super().__init__(f"{source}: invalid tenant configuration\n{lines}")


def _field_path(location: Iterable[Any]) -> str:
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part in {"texts"}:
            continue
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def validate_config(data: Any, source: str) -> TenantConfig:
    try:
        return TenantConfig.model_validate(data)
    except ValidationError as error:
        problems = [
            (_field_path(_drop_union_tags(detail["loc"])), detail["msg"])
            for detail in error.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from None


def _drop_union_tags(location: Iterable[Any]) -> list[Any]:
    # Pydantic puts the discriminator's value in the path ("spec.digits.length");
    # a person editing the file knows the field as "spec.length".
    parts = list(location)
    return [
        part
        for index, part in enumerate(parts)
        if not (index > 0 and parts[index - 1] == "spec" and part in IDENTIFIER_KIND_TAGS)
    ]


def load_preset_file(path: Path) -> TenantConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [("", f"not valid TOML: {error}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), [("", "not UTF-8 text")]) from None
    config = validate_config(data, str(path))
    if config.slug != path.stem:
        raise ConfigError(str(path), [("slug", f"'{config.slug}' differs from the file name")])
    return config


def load_presets(directory: Path = PRESETS) -> list[TenantConfig]:
    configs = [load_preset_file(path) for path in sorted(directory.glob("*.toml"))]
    check_no_shared_hosts(configs)
    return configs


def check_no_shared_hosts(configs: Iterable[TenantConfig]) -> None:
    owner: dict[str, str] = {}
    for config in configs:
        for domain in config.domains:
            if domain in owner and owner[domain] != config.slug:
                raise ConfigError(
                    config.slug, [("domains", f"'{domain}' is already used by '{owner[domain]}'")]
                )
            owner[domain] = config.slug
