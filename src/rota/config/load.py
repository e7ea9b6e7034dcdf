"""Reading rota.toml: find the file, interpolate ``${VAR}``, resolve secrets, validate.

Secrets come only from the environment (``"${OPENAI_API_KEY}"``) or a file
(``"file:/run/secrets/token"``); one written literally into rota.toml, or a password
inside ``database.url``, is a config error.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rota.config.problems import describe, key_at
from rota.config.schema import PASSWORD_IN_URL, SECRET_KEYS, Config
from rota.errors import ConfigError

DEFAULT_PATH = Path("rota.toml")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def config_path(cli_path: Path | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if cli_path is not None:
        return cli_path
    if env.get("ROTA_CONFIG"):
        return Path(env["ROTA_CONFIG"])
    return DEFAULT_PATH


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    required: bool = False,
    secrets: bool = True,
) -> Config:
    """Load and validate rota.toml, raising ConfigError with every problem found.

    ``path`` None means ROTA_CONFIG or ./rota.toml; when neither exists and the file is
    not ``required``, the defaults are returned (tasks then say what is not configured).
    ``secrets=False`` (commands that touch no target) leaves a secret whose variable is
    unset or whose file is unreadable as None instead of reporting it.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("ROTA_CONFIG"))
    p = config_path(path, env)
    if not p.exists():
        if explicit or required:
            raise ConfigError(f"config file {p} does not exist (create one with `rota init`)")
        return Config()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    return parse_config(text, source=p, env=env, secrets=secrets)


def parse_config(
    text: str,
    *,
    source: Path | None = None,
    env: Mapping[str, str] | None = None,
    secrets: bool = True,
) -> Config:
    env = os.environ if env is None else env
    where = str(source) if source else "config"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}", [f"{where}: {exc}"]) from None
    problems: list[str] = []
    data = _interpolate(raw, (), env, problems, text, source, secrets)
    try:
        cfg = Config.model_validate(
            data, context={"base": source.parent.resolve() if source else None}
        )
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(describe(err, text))
        cfg = None
    if problems:
        n = len(problems)
        raise ConfigError(f"{where}: {n} problem{'s' if n > 1 else ''} found", problems)
    assert cfg is not None
    cfg.source = source
    return cfg


def _interpolate(
    value: Any,
    loc: tuple[str, ...],
    env: Mapping[str, str],
    problems: list[str],
    text: str,
    source: Path | None,
    secrets: bool = True,
) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, (*loc, k), env, problems, text, source, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, loc, env, problems, text, source, secrets) for v in value]
    if not isinstance(value, str):
        return value
    key = key_at(loc, text)
    interpolated = bool(_VAR.search(value))
    is_secret = tuple(loc[:2]) in SECRET_KEYS or tuple(loc[:3]) in SECRET_KEYS
    unresolved: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        unresolved.append(f"{key}: environment variable {name} is not set")
        return ""

    result = _VAR.sub(sub, value)
    if is_secret and not secrets and unresolved:
        return None  # resolved lazily: only commands that use the secret need it
    problems.extend(unresolved)
    if is_secret:
        if value.startswith("file:"):
            secret_file = Path(value[5:]).expanduser()
            if not secret_file.is_absolute() and source is not None:
                secret_file = source.parent / secret_file
            try:
                return secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                if secrets:
                    problems.append(f"{key}: cannot read secret file {secret_file}: {exc.strerror}")
                return None
        if not interpolated:
            problems.append(
                f'{key}: secrets are not written into rota.toml; use "${{VAR}}" (environment) '
                'or "file:/path/to/secret"'
            )
            return None
    if loc == ("database", "url") and not interpolated and PASSWORD_IN_URL.match(value):
        problems.append(
            f"{key}: the URL holds a password; put the URL in the environment "
            '(url = "${DATABASE_URL}") or the password in ~/.pgpass'
        )
    return result
