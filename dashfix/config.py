"""Settings from flags, ``DASHFIX_*`` environment variables and a config file.

Precedence: flag > environment > config file > default.  The config file is the first
``dashfix.toml``, or ``pyproject.toml`` with a ``[tool.dashfix]`` table, found from the
current folder upwards; the search stops at a folder holding ``.git`` or at the
filesystem root.  Every effective value remembers where it came from, which
``dashfix config show`` prints.  Relative paths in a config file are relative to the
folder of that file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashfix.errors import UsageError
from dashfix.inputs.kafka import is_kafka_url, is_secret, redacted

CONFIG_FILE = "dashfix.toml"
PYPROJECT = "pyproject.toml"
ENV_PREFIX = "DASHFIX_"
CONFIG_ENV = "DASHFIX_CONFIG"

FORMATS = ("text", "concise", "table", "json", "jsonl", "sarif", "junit", "github")
FAIL_ON = ("error", "warning", "info", "never")
PROGRESS = ("auto", "always", "never")
SEVERITIES = ("error", "warning", "info")
LIMIT_PROFILES = ("consumer", "server")


@dataclass(frozen=True, slots=True)
class ConfigFile:
    path: Path
    table: dict[str, Any]
    """The dashfix table: the whole of dashfix.toml, or pyproject's [tool.dashfix]."""

    @property
    def label(self) -> str:
        return f"{self.path} [tool.dashfix]" if self.path.name == PYPROJECT else str(self.path)


@dataclass(frozen=True, slots=True)
class Value:
    value: Any
    source: str
    """``default``, ``env DASHFIX_X``, ``config <file>`` or ``flag --x``."""


# Each parser gets a raw value (a TOML value, or an environment string split by the
# setting's own rule) plus the folder relative paths start from, and returns the value.
Parser = Callable[[Any, Path], Any]


class _Invalid(ValueError):
    """A value of the wrong shape; the caller adds which file, variable or flag held it."""


def _choice(choices: tuple[str, ...]) -> Parser:
    def parse(raw: Any, base: Path) -> str:
        if not isinstance(raw, str) or raw.lower() not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}, not {raw!r}")
        return raw.lower()

    return parse


def _string_list(raw: Any) -> list[str]:
    """A list of strings, or one comma-separated string (env variables, repeated flags)."""
    items = [raw] if isinstance(raw, str) else raw
    if isinstance(items, list) and all(isinstance(item, str) for item in items):
        return [part.strip() for item in items for part in item.split(",") if part.strip()]
    raise _Invalid(f"must be a list of strings, not {raw!r}")


def _codes(raw: Any, base: Path) -> tuple[str, ...]:
    return tuple(code.upper() for code in _string_list(raw))


def _path(raw: Any, base: Path) -> Path:
    if not isinstance(raw, str) or not raw:
        raise _Invalid(f"must be a path string, not {raw!r}")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def _split_paths(text: str) -> list[str]:
    """``DASHFIX_PATHS``: split on ``os.pathsep``, except inside a ``kafka://`` URL (its
    ``:`` before a port; a topic name holds no ``:``, so the URL ends at its topic)."""
    items: list[str] = []
    for part in text.split(os.pathsep):
        previous = items[-1] if items else ""
        if (previous == "kafka" and part.startswith("//")) or (
                is_kafka_url(previous) and "/" not in previous[len("kafka://"):]):
            items[-1] = f"{previous}:{part}"
        else:
            items.append(part)
    return items


def _paths(raw: Any, base: Path) -> tuple[Path | str, ...]:
    """Paths (relative ones from ``base``) and ``kafka://`` URLs, kept as written."""
    items = _split_paths(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _Invalid(f"must be a list of paths, not {raw!r}")
    return tuple(item if is_kafka_url(item) else _path(item, base) for item in items if item)


def _kafka_properties(raw: Any, base: Path) -> dict[str, str]:
    """librdkafka properties: a table (``[tool.dashfix.kafka]``) or KEY=VALUE pairs."""
    if isinstance(raw, str | list):
        pairs = [item.partition("=") for item in _string_list(raw)]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            raise _Invalid("expects KEY=VALUE pairs (librdkafka properties)")
        raw = {key.strip(): value for key, _, value in pairs}
    if not isinstance(raw, dict):
        raise _Invalid("must be a table of librdkafka properties")
    properties: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict | list) or value is None:
            shown = "***" if is_secret(key) else repr(value)
            raise _Invalid(f"{key}: a property value is a string, number or boolean, "
                           f"not {shown}")
        properties[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return properties


def _limits(raw: Any, base: Path) -> str:
    text = "" if isinstance(raw, bool) or not isinstance(raw, str | int) else str(raw)
    text = text.strip().lower()
    if text in LIMIT_PROFILES or (text.isdigit() and int(text) > 0):
        return text
    raise _Invalid(f"must be consumer, server or a positive number of bytes, not {raw!r}")


def _severity_map(raw: Any, base: Path) -> dict[str, str]:
    if isinstance(raw, str | list):
        pairs: list[tuple[str, Any]] = []
        for item in _string_list(raw):
            code, sep, level = item.partition("=")
            if not sep:
                raise _Invalid(f"expects CODE=LEVEL pairs, not {item!r}")
            pairs.append((code.strip(), level.strip()))
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise _Invalid(f"must map codes to error, warning or info, not {raw!r}")
    overrides: dict[str, str] = {}
    for code, level in pairs:
        if not isinstance(level, str) or level.lower() not in SEVERITIES:
            raise _Invalid(f"{code}: severity must be error, warning or info, not {level!r}")
        overrides[code.upper()] = level.lower()
    return overrides


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(raw: Any, base: Path) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE + _FALSE:
        return raw.lower() in _TRUE
    raise _Invalid(f"must be true or false, not {raw!r}")


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    parse: Parser
    default: Any
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("paths", _paths, (Path("checkpoints"),),
            f"folders to verify when none are given (env: separated by {os.pathsep!r})"),
    Setting("fail_on", _choice(FAIL_ON), "error", "lowest severity that fails the run"),
    Setting("limits", _limits, "consumer", "frame size limits: consumer, server or bytes"),
    Setting("select", _codes, (), "only report these codes or code prefixes"),
    Setting("ignore", _codes, (), "never report these codes or code prefixes"),
    Setting("severity", _severity_map, {}, "per-code severity overrides, CODE = LEVEL"),
    Setting("baseline", _path, None, "baseline file of accepted findings"),
    Setting("cache", _path, None, "folder for the verify cache"),
    Setting("format", _choice(FORMATS), "text", "output format on stdout"),
    Setting("progress", _choice(PROGRESS), "auto", "progress display on stderr"),
    Setting("quiet", _flag, False, "no progress and no heartbeat"),
    Setting("kafka", _kafka_properties, {},
            "librdkafka properties for kafka:// topics (SASL, TLS, ...); secrets never shown"),
    Setting("allow_empty", _flag, False, "a PATH with nothing to check passes (no DF003)"),
)
SETTING_BY_KEY = {setting.key: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    values: Mapping[str, Value]
    config_file: ConfigFile | None

    def __getitem__(self, key: str) -> Any:
        return self.values[key].value

    def source(self, key: str) -> str:
        return self.values[key].source


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"config {path}: cannot read: {exc.strerror or exc}") from None


def load_config_file(path: Path) -> ConfigFile:
    """Read one config file: the dashfix table of a pyproject.toml, or a whole dashfix.toml."""
    document = _read_toml(path)
    if path.name == PYPROJECT:
        tool = document.get("tool", {})
        table = tool.get("dashfix", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise UsageError(f"config {path}: [tool.dashfix] must be a table")
    else:
        table = document
    unknown = sorted(set(table) - set(SETTING_BY_KEY))
    if unknown:
        raise UsageError(
            f"config {path}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(SETTING_BY_KEY)}"
        )
    return ConfigFile(path, table)


def find_config_file(start: Path) -> ConfigFile | None:
    """The nearest config file from ``start`` upwards, stopping at a .git folder."""
    folder = start.resolve()
    while True:
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return load_config_file(candidate)
        pyproject = folder / PYPROJECT
        if pyproject.is_file():
            tool = _read_toml(pyproject).get("tool")
            if isinstance(tool, dict) and "dashfix" in tool:
                return load_config_file(pyproject)
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent


def _parse(setting: Setting, raw: Any, base: Path, where: str) -> Any:
    try:
        return setting.parse(raw, base)
    except _Invalid as exc:
        raise UsageError(f"{where}: {setting.key} {exc}") from None


def resolve_settings(
    flags: Mapping[str, tuple[Any, str]] | None = None,
    *,
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Effective settings. ``flags`` maps a setting key to (raw value, flag name) for the
    flags that were actually given; ``config`` is an explicit --config file."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    if config is None and environ.get(CONFIG_ENV):
        config = Path(environ[CONFIG_ENV])
    if config is not None:
        config_file: ConfigFile | None = load_config_file(config if config.is_absolute()
                                                          else cwd / config)
    else:
        config_file = find_config_file(cwd)
    values: dict[str, Value] = {}
    for setting in SETTINGS:
        if setting.key in flags:
            raw, flag = flags[setting.key]
            value = Value(_parse(setting, raw, cwd, flag), f"flag {flag}")
        elif environ.get(setting.env):
            value = Value(
                _parse(setting, environ[setting.env], cwd, f"environment {setting.env}"),
                f"env {setting.env}",
            )
        elif config_file is not None and setting.key in config_file.table:
            value = Value(
                _parse(setting, config_file.table[setting.key], config_file.path.parent,
                       f"config {config_file.label}"),
                f"config {config_file.label}",
            )
        else:
            value = Value(setting.default, "default")
        values[setting.key] = value
    return Settings(values, config_file)


def shown(key: str, value: Any) -> Any:
    """``display`` of a setting, with the values of secret Kafka properties hidden."""
    return display(redacted(value) if key == "kafka" else value)


def display(value: Any) -> Any:
    """A JSON- and text-friendly form of a setting value."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [display(item) for item in value]
    if isinstance(value, dict):
        return {key: display(item) for key, item in value.items()}
    return value
