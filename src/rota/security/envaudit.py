"""The environment variable audit: what the code reads against what is set, and how.

Pure functions over text: :func:`code_reads` finds the variables JS/TS and Python code reads
(``process.env.X``, ``process.env["X"]``, ``const { A, B: b } = process.env``,
``import.meta.env.X``, ``os.environ["X"]``, ``os.environ.get("X")``, ``os.getenv("X")``,
Prisma's ``env("X")``), :func:`parse_dotenv` reads the dotenv format (``export``, quotes,
comments, multi-line double-quoted values) and :func:`audit` compares them. The task
(:mod:`rota.tasks.security.env`) and ``rota security scan`` feed these from the project
target.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rota.security.secrets import (
    ALLOW_FILE,
    LOCKFILES,
    PUBLISHED_EXAMPLES,
    SecretMatch,
    _name_is_secret,
    is_placeholder,
    parse_allow,
    scan_history,
    scan_text,
)

if TYPE_CHECKING:
    from rota.targets.project import Project

__all__ = [
    "CODE_SUFFIXES",
    "DotenvEntry",
    "EnvProblem",
    "ProjectAudit",
    "Read",
    "audit",
    "audit_project",
    "code_reads",
    "env_file_role",
    "parse_dotenv",
]

CODE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".py", ".prisma")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_JS = re.compile(
    r"(?:process\.env|import\.meta\.env)(?:\?\.|\.)(?P<a>" + _NAME + r")"
    r"|(?:process\.env|import\.meta\.env)\??\.?\[\s*(?P<q>[\"'\x60])(?P<b>"
    + _NAME
    + r")(?P=q)\s*\]"
)
_JS_DESTRUCTURE = re.compile(r"\{(?P<names>[^{}]*)\}\s*=\s*(?:process\.env|import\.meta\.env)\b")
_PY = re.compile(
    r"(?<![\w.])(?:os\.)?(?:environ\s*\[\s*|environ\.get\(\s*|getenv\(\s*|environ\.setdefault\(\s*)"
    r"(?P<q>[\"'])(?P<a>" + _NAME + r")(?P=q)(?P<rest>\s*[,)\]])"
)
_PRISMA = re.compile(r"\benv\(\s*\"(?P<a>" + _NAME + r")\"\s*\)")
# A default right after a JS read: process.env.X || "x", ?? "x", or a destructuring default.
_JS_DEFAULT = re.compile(r"\s*(?:\|\||\?\?)")
# Set by the shell, the OS or npm, never by the app's config.
AMBIENT = frozenset(
    {"PATH", "HOME", "USER", "PWD", "SHELL", "LANG", "TERM", "HOSTNAME", "TMPDIR", "TMP",
     "TEMP", "LOGNAME", "CI", "INIT_CWD", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"}
)  # fmt: skip
# Read by the runtime or a library rather than the app's code: set and not "unused".
CONSUMED = frozenset(
    {"NODE_ENV", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "TZ",
     "DEBUG", "UV_THREADPOOL_SIZE", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE",
     "PGSSLMODE", "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "HTTP_PROXY",
     "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "LOG_LEVEL"}
)  # fmt: skip
_EXAMPLE_ROLES = ("example", "sample", "template", "dist", "defaults")
_DEV_ROLES = ("development", "dev", "test", "testing", "ci", "local", "e2e")
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^:/@\s]+:([^@\s]+)@", re.IGNORECASE)


@dataclass(frozen=True)
class Read:
    """One place the code reads a variable."""

    name: str
    file: str
    line: int
    has_default: bool


@dataclass(frozen=True)
class DotenvEntry:
    name: str
    value: str = field(repr=False)
    file: str
    line: int


@dataclass(frozen=True)
class EnvProblem:
    """One audit result: ``code`` is a ``security.env.*`` finding code."""

    code: str
    severity: str  # "critical", "warning" or "ok"
    name: str  # the variable, or the file for file problems
    file: str
    line: int
    message: str
    evidence: dict[str, object] = field(default_factory=dict)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def code_reads(file: str, text: str) -> list[Read]:
    """The environment variables ``text`` reads, each place once."""
    out: list[Read] = []
    if file.endswith(".py"):
        for m in _PY.finditer(text):
            default = m.group("rest").strip().startswith(",") or "environ[" not in m.group()
            # environ.get("X") and getenv("X") return None when unset: only a default or a
            # subscript makes the intent clear; .get without default counts as optional.
            out.append(Read(m.group("a"), file, _line(text, m.start()), default))
        return out
    if file.endswith(".prisma"):
        return [
            Read(m.group("a"), file, _line(text, m.start()), False) for m in _PRISMA.finditer(text)
        ]
    for m in _JS.finditer(text):
        name = m.group("a") or m.group("b")
        default = bool(_JS_DEFAULT.match(text, m.end()))
        out.append(Read(name, file, _line(text, m.start()), default))
    for m in _JS_DESTRUCTURE.finditer(text):
        line = _line(text, m.start())
        for part in m.group("names").split(","):
            part = part.strip()
            if not part or part.startswith("..."):
                continue
            key = part.partition(":")[0]
            key = key.split("=")[0].strip().strip("\"'")
            if re.fullmatch(_NAME, key):
                out.append(Read(key, file, line, "=" in part))
    return out


def _unquote_double(s: str) -> str:
    return (
        s.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t").replace('\\"', '"')
    ).replace("\\\\", "\\")


def parse_dotenv(file: str, text: str) -> list[DotenvEntry]:
    """Entries of a dotenv file, as the ``dotenv`` packages read it: ``export`` prefixes,
    ``#`` comments (inline only after whitespace, outside quotes), single quotes literal,
    double quotes with escapes and spanning lines, backquotes literal."""
    out: list[DotenvEntry] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        n = i + 1
        i += 1
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        s = re.sub(r"^export\s+", "", s)
        m = re.match(r"(" + _NAME + r")\s*[=:]\s*(.*)$", s)
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        if rest[:1] in ("'", '"', "`"):
            q = rest[0]
            body = rest[1:]
            while True:
                end = body.find(q)
                while q == '"' and end > 0 and body[end - 1] == "\\":
                    end = body.find(q, end + 1)
                if end >= 0 or i >= len(lines):
                    break
                body += "\n" + lines[i]
                i += 1
            value = body[:end] if end >= 0 else body
            if q == '"':
                value = _unquote_double(value)
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        out.append(DotenvEntry(name, value, file, n))
    return out


def env_file_role(file: str) -> str:
    """ "example" (documents names; committed on purpose), "dev" (development or test
    values) or "production" (everything else: .env, .env.production, .env.staging)."""
    name = file.rsplit("/", 1)[-1].lower()
    parts = set(re.split(r"[._-]", name))
    if parts & set(_EXAMPLE_ROLES):
        return "example"
    if parts & set(_DEV_ROLES):
        return "dev"
    return "production"


def _placeholder(name: str, value: str) -> str | None:
    """Why ``value`` of ``name`` is a stand-in, or None."""
    if value in PUBLISHED_EXAMPLES or "EXAMPLE" in value:
        return "a provider's published example key"
    m = _URL_PASSWORD.match(value)
    if m and is_placeholder(m.group(1)):
        return "a placeholder password in the URL"
    if value.startswith(("sk-...", "sk_...", "SG.xxx", "sk-xxx")):
        return "a placeholder key"
    if _name_is_secret(name) and value and is_placeholder(value):
        return "a placeholder or default value"
    return None


def audit(
    reads: Iterable[Read],
    entries: Iterable[DotenvEntry],
    *,
    modes: dict[str, int],
    ignored: set[str] | None,
    committed: dict[str, list[str]],
    process_env: dict[str, str] | None = None,
    required: Iterable[str] = (),
) -> list[EnvProblem]:
    """Compare what the code reads with what the env files and the process set.

    ``modes`` maps each env file to its permission bits; ``ignored`` is the set git ignores
    (None: not a git repository); ``committed`` maps env files to commits that touched them.
    """
    reads = list(reads)
    entries = list(entries)
    out: list[EnvProblem] = []
    by_name: dict[str, list[Read]] = {}
    for r in reads:
        by_name.setdefault(r.name, []).append(r)
    set_names = {e.name for e in entries if env_file_role(e.file) != "example"}
    documented = {e.name for e in entries if env_file_role(e.file) == "example"}
    if process_env is not None:
        set_names |= set(process_env)
    have_source = bool(set_names) or process_env is not None or bool(modes)
    required = list(required)

    for name in sorted(set(by_name) | set(required)):
        if name in set_names or name in AMBIENT or name.startswith("npm_"):
            continue
        where = by_name.get(name, [])
        is_required = name in required
        if not is_required and (not have_source or all(r.has_default for r in where)):
            continue
        first = where[0] if where else None
        out.append(
            EnvProblem(
                "security.env.missing",
                "critical" if is_required else "warning",
                name,
                first.file if first else "",
                first.line if first else 0,
                f"{name} is read by the code but set in no env file"
                + (" nor in the service's environment" if process_env is not None else "")
                + (" ([env] required lists it)" if is_required else ""),
                {
                    "read_at": [f"{r.file}:{r.line}" for r in where[:5]],
                    "documented_in_example": name in documented,
                },
            )
        )

    for e in entries:
        role = env_file_role(e.file)
        if role == "example":
            continue
        if e.name not in by_name and e.name not in CONSUMED and e.name not in required:
            out.append(
                EnvProblem(
                    "security.env.unused",
                    "warning",
                    e.name,
                    e.file,
                    e.line,
                    f"{e.name} is set in {e.file} but no code reads it",
                )
            )
        if role == "production" and (why := _placeholder(e.name, e.value)):
            out.append(
                EnvProblem(
                    "security.env.placeholder",
                    "critical" if _name_is_secret(e.name) else "warning",
                    e.name,
                    e.file,
                    e.line,
                    f"{e.name} in {e.file} holds {why}",
                )
            )
    if process_env is not None:
        for name in sorted(process_env):
            if (why := _placeholder(name, process_env[name])) and _name_is_secret(name):
                out.append(
                    EnvProblem(
                        "security.env.placeholder",
                        "critical",
                        name,
                        "",
                        0,
                        f"{name} in the service's environment holds {why}",
                    )
                )

    for file, mode in sorted(modes.items()):
        if env_file_role(file) == "example":
            continue
        url_secrets = [
            e.name
            for e in entries
            if e.file == file
            and (m := _URL_PASSWORD.match(e.value))
            and not is_placeholder(m.group(1))
        ]
        if mode & 0o077:
            world = bool(mode & stat.S_IROTH)
            out.append(
                EnvProblem(
                    "security.env.file_mode",
                    "critical" if world else "warning",
                    file,
                    file,
                    0,
                    f"{file} is mode {mode:04o}: readable by "
                    + ("every user" if world else "its group")
                    + (
                        f", with passwords in {', '.join(url_secrets)}"
                        if url_secrets and world
                        else ""
                    ),
                    {"mode": f"{mode:04o}", "url_passwords": url_secrets},
                )
            )
        if ignored is not None and file not in ignored:
            out.append(
                EnvProblem(
                    "security.env.not_ignored",
                    "critical",
                    file,
                    file,
                    0,
                    f"{file} is not ignored by git: one `git add .` commits it",
                )
            )
        if commits := committed.get(file):
            out.append(
                EnvProblem(
                    "security.env.not_ignored",
                    "critical",
                    file,
                    file,
                    0,
                    f"{file} is in git history ({len(commits)} commit(s)): its values must "
                    "be rotated, and removing the file now does not remove them",
                    {"commits": commits[:10]},
                )
            )
    return out


@dataclass
class ProjectAudit:
    """Everything :func:`audit_project` found, and what it could not look at."""

    problems: list[EnvProblem]
    hardcoded: list[SecretMatch]
    in_history: list[SecretMatch]
    reads: int
    env_files: list[str]
    notes: list[str]
    git: bool


def audit_project(
    project: Project,
    *,
    files: list[str],
    required: Iterable[str] = (),
    allow: Iterable[str] = (),
    history: bool = True,
    process_env: bool = True,
    skip_placed_secrets: bool = True,
) -> ProjectAudit:
    """Run the secret rules and the env audit over ``project``.

    ``skip_placed_secrets``: a secret in a production env file that git ignores and never
    committed is where secrets belong; it is not reported as hardcoded (the file's mode
    and placeholders are still judged)."""
    allowed = set(allow)
    notes: list[str] = []
    try:
        allowed |= parse_allow((project.root / ALLOW_FILE).read_text())
    except FileNotFoundError:
        pass
    except ValueError as e:
        raise ValueError(f"{ALLOW_FILE} {e}") from e
    env_files = project.glob(files)
    git = project.is_git()
    if not git:
        notes.append(
            "not a git repository (or git is not installed): ignore and history checks skipped"
        )
    ignored = project.ignored(env_files) if git else None
    committed = {f: c for f in env_files if git and (c := project.commits_touching(f))}
    reads: list[Read] = []
    hardcoded: list[SecretMatch] = []
    for rel, text in project.texts():
        if rel.endswith(CODE_SUFFIXES):
            reads += code_reads(rel, text)
        placed = (
            rel in env_files
            and env_file_role(rel) != "example"
            and (ignored is None or rel in ignored)
            and rel not in committed
        )
        if skip_placed_secrets and placed:
            continue
        generic = rel.rsplit("/", 1)[-1] not in LOCKFILES
        hardcoded += scan_text(text, rel, generic=generic, allow=allowed)
    entries = [e for f in env_files if (t := project.read_text(f)) for e in parse_dotenv(f, t)]
    env: dict[str, str] | None = None
    if process_env:
        env, note = project.process_environ()
        notes.append(note)
    problems = audit(
        reads,
        entries,
        modes={f: project.mode(f) for f in env_files},
        ignored=ignored,
        committed=committed,
        process_env=env,
        required=required,
    )
    in_history: list[SecretMatch] = []
    if history and git:
        current = {m.sha256 for m in hardcoded}
        seen: set[tuple[str, str]] = set()
        for m in scan_history(project.history_hunks(), allow=allowed):
            if m.sha256 in current or (m.sha256, m.file) in seen:
                continue  # still in the tree (reported as hardcoded), or seen in a later commit
            seen.add((m.sha256, m.file))
            in_history.append(m)
    return ProjectAudit(problems, hardcoded, in_history, len(reads), env_files, notes, git)
