"""Load settings from one YAML file plus ``CLOSEDLOOP__SECTION__KEY`` environment overrides.

Order of precedence: environment override > file value > default. String values may refer to
environment variables as ``${VAR}`` (``$${`` stands for a literal ``${``). Validation reports
every problem at once, each with its key path and the file line (or the environment variable)
it came from; the result is an immutable :class:`~closedloop.config.schema.Settings`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from closedloop.config.schema import Settings, default_config_paths
from closedloop.runtime.errors import ConfigError, ConfigProblem
from closedloop.runtime.logging import register_secret

ENV_PREFIX = "CLOSEDLOOP__"
_INTERPOLATION = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)\}")
Origins = dict[tuple[str, ...], tuple[str, int | None]]


def find_config_file(explicit: str | Path | None) -> Path | None:
    """The config file to read: ``explicit`` if given, else the first default that exists.

    Raises:
        ConfigError: when ``explicit`` names a file that does not exist.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                [ConfigProblem("--config", f"no such file: {path}")],
                hint="create one with `closedloop init DIR`",
            )
        return path
    return next((p for p in default_config_paths() if p.is_file()), None)


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, interpolate, override and validate the settings.

    Args:
        path: the config file; the default locations are searched when None.
        environ: the environment to read (``os.environ`` when None).

    Raises:
        ConfigError: listing every problem found.
    """
    env = os.environ if environ is None else environ
    config_file = find_config_file(path)
    raw: dict[str, Any] = {}
    origins: Origins = {}
    problems: list[ConfigProblem] = []
    if config_file is not None:
        raw, origins = _read_yaml(config_file, problems)
    raw = _interpolate(raw, (), env, origins, problems)
    _apply_environment(raw, env, origins, problems)
    if not problems:
        try:
            settings = Settings.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_describe(exc, origins))
        else:
            _register_secrets(settings)
            return settings
    problems.sort(key=lambda p: (p.source or "", p.line or 0, p.key))
    raise ConfigError(problems, hint="fix the keys above; `closedloop config check` re-validates")


def _read_yaml(path: Path, problems: list[ConfigProblem]) -> tuple[dict[str, Any], Origins]:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(ConfigProblem("(file)", f"not valid YAML: {reason}", str(path), line))
        return {}, {}
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        problems.append(ConfigProblem("(file)", "must be a mapping of sections", str(path), 1))
        return {}, {}
    origins: Origins = {}
    _collect_lines(node, (), str(path), origins)
    return data, origins


def _collect_lines(node: yaml.Node | None, at: tuple[str, ...], source: str, out: Origins) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*at, str(key_node.value))
            out[key] = (source, key_node.start_mark.line + 1)
            _collect_lines(value_node, key, source, out)


def _interpolate(
    value: Any,
    at: tuple[str, ...],
    env: Mapping[str, str],
    origins: Origins,
    problems: list[ConfigProblem],
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*at, str(k)), env, origins, problems) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if name not in env:
            source, line = origins.get(at, (None, None))
            problems.append(
                ConfigProblem(".".join(at), f"environment variable {name} is not set", source, line)
            )
            return ""
        return env[name]

    return _INTERPOLATION.sub(substitute, value)


def _apply_environment(
    raw: dict[str, Any], env: Mapping[str, str], origins: Origins, problems: list[ConfigProblem]
) -> None:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if not all(path):
            problems.append(ConfigProblem(name, "expected CLOSEDLOOP__SECTION__KEY", "environment"))
            continue
        target = raw
        for part in path[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(ConfigProblem(".".join(path), "is not a section", "environment"))
                break
            target = child
        else:
            target[path[-1]] = _parse_scalar(env[name])
            origins[path] = (f"environment variable {name}", None)


def _parse_scalar(text: str) -> Any:
    """Read an environment value as YAML would read a scalar (numbers, booleans, null)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) or value is None else text


def _describe(exc: ValidationError, origins: Origins) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _suggestion(loc)
        source, line = origins.get(loc, origins.get(loc[:1], (None, None)))
        problems.append(ConfigProblem(".".join(loc), message, source, line))
    return problems


def _suggestion(loc: tuple[str, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    known = ", ".join(model.model_fields)
    return f" (did you mean '{close[0]}'?)" if close else f" (known keys: {known})"


def _register_secrets(settings: Settings) -> None:
    for section in (settings.hubspot, settings.salesforce):
        for value in section.model_dump().values():
            if hasattr(value, "get_secret_value"):
                register_secret(value.get_secret_value())
    url = settings.database.url
    if url:
        match = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
        if match:
            register_secret(match.group(1))
