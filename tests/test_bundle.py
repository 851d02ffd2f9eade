"""What ships: the files serverless.yml and vercel.json put in a function, and nothing more.

Each platform's bundle is computed from its own config the way the platform does it, copied into an
empty directory, and served from there by a fresh interpreter that cannot see this checkout: the
sandbox and the dev tooling are absent, and every function still answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(p.stem for p in (ROOT / "functions").glob("*.py"))
DEV_ONLY = ("zapline.devtools", "zapline.sandbox")

# Any syntactically valid value will do: nothing is called but the health probes.
MINIMAL_SETTINGS = {
    "APP_URL": "https://zapline.test",
    "UPSTASH_REDIS_REST_URL": "https://redis.zapline.test",
    "UPSTASH_REDIS_REST_TOKEN": "redis-token",
    "QSTASH_TOKEN": "qstash-token",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_current",
    "QSTASH_NEXT_SIGNING_KEY": "sig_next",
    "CENTRIFUGO_API_URL": "https://centrifugo.zapline.test/api",
    "CENTRIFUGO_API_KEY": "centrifugo-key",
    "CENTRIFUGO_TOKEN_HMAC_SECRET": "centrifugo-secret",
}

# @vercel/python bundles every file of the project ("**", dot files included) except these and the
# build's `excludeFiles` (one glob string); it has no `includeFiles` (packages/python/src/index.ts).
VERCEL_PREDEFINED_EXCLUDES = (
    ".git/**",
    ".gitignore",
    ".vercel/**",
    ".pnpm-store/**",
    "**/node_modules/**",
    "**/.next/**",
    "**/.nuxt/**",
    "**/.venv/**",
    "**/venv/**",
    "**/__pycache__/**",
    "**/.mypy_cache/**",
    "**/.ruff_cache/**",
    "**/public/**",
    "**/pnpm-lock.yaml",
    "**/yarn.lock",
    "**/package-lock.json",
)

# The configs as they were before the sandbox and the dev tooling were left out: the yardstick.
SERVERLESS_PATTERNS_BEFORE = ("!**", "functions/*.py", "lib/zapline/**", "!**/__pycache__/**")
VERCEL_EXCLUDE_BEFORE: str | None = None


def expand_braces(pattern: str) -> list[str]:
    """``a/{b,c}/d`` → ``a/b/d``, ``a/c/d`` (one level of braces, as our configs use)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [out for alt in match.group(1).split(",") for out in expand_braces(head + alt + tail)]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A micromatch / minimatch glob with ``dot: true``, as both platforms match paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    regexes = [glob_regex(p) for pattern in patterns for p in expand_braces(pattern)]
    return lambda path: any(r.fullmatch(path) for r in regexes)


def project_files() -> list[str]:
    """What a deploy from this checkout uploads: tracked files and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(p for p in set(listed.split("\0")) if p and (ROOT / p).is_file())


def serverless_bundle(files: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """serverless.yml `package.patterns`: applied in order, the last pattern that matches a file wins."""
    rules = [(not p.startswith("!"), matcher([p.removeprefix("!")])) for p in patterns]
    kept = []
    for path in files:
        include = True
        for verdict, matches in rules:
            if matches(path):
                include = verdict
        if include:
            kept.append(path)
    return kept


def vercel_bundle(files: Iterable[str], exclude: str | None) -> list[str]:
    excluded = matcher([*VERCEL_PREDEFINED_EXCLUDES, *([exclude] if exclude else [])])
    return [path for path in files if not excluded(path)]


def serverless_patterns() -> list[str]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "serverless.yml").read_text())
    patterns: list[str] = config["package"]["patterns"]
    return patterns


def vercel_exclude() -> str | None:
    config: dict[str, Any] = json.loads((ROOT / "vercel.json").read_text())
    (build,) = config["builds"]
    assert "includeFiles" not in build.get("config", {}), "@vercel/python ignores includeFiles"
    exclude: str | None = build.get("config", {}).get("excludeFiles")
    return exclude


def bundle(platform: str) -> list[str]:
    if platform == "serverless":
        return serverless_bundle(project_files(), serverless_patterns())
    return vercel_bundle(project_files(), vercel_exclude())


def bundle_before(platform: str) -> list[str]:
    if platform == "serverless":
        return serverless_bundle(project_files(), SERVERLESS_PATTERNS_BEFORE)
    return vercel_bundle(project_files(), VERCEL_EXCLUDE_BEFORE)


def python_lines(root: Path, files: Iterable[str]) -> int:
    return sum(len((root / f).read_bytes().splitlines()) for f in files if f.endswith(".py"))


def run_fresh(script: str, *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -I``: no PYTHONPATH, no user site, no script directory; only the settings in the environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **MINIMAL_SETTINGS}
    return subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


PLATFORMS = ["serverless", "vercel"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bundle_holds_the_functions_and_the_library_only(platform: str) -> None:
    files = bundle(platform)
    assert {f"functions/{name}.py" for name in FUNCTIONS} <= set(files)
    for needed in ("lib/zapline/py.typed", "lib/zapline/store/lua/ingest.lua", "lib/zapline/asgi.py"):
        assert needed in files, needed
    left_out = ("lib/zapline/sandbox/", "lib/zapline/devtools/", "tests/", ".venv/", ".ci/")
    assert not [f for f in files if f.startswith(left_out) or "__pycache__" in f]
    assert "lib/zapline/__main__.py" not in files


@pytest.mark.parametrize("platform", PLATFORMS)
def test_local_state_and_secrets_never_ship(platform: str) -> None:
    """Files git ignores still reach Vercel's builder from a `vercel deploy` of a working tree."""
    local = [".env", ".env.local", ".zapline/dev.env", ".hypothesis/examples/x", ".pytest_cache/v/x", ".venv/bin/x"]
    local += ["lib/zapline.egg-info/PKG-INFO", "lib/zapline/__pycache__/asgi.cpython-311.pyc", "build/lib/x.py"]
    if platform == "serverless":
        assert serverless_bundle(local, serverless_patterns()) == []
    else:
        assert vercel_bundle(local, vercel_exclude()) == []


CHILD_SERVES_HEALTH = """
import asyncio, importlib, importlib.util, json, os, sys
root = os.getcwd()
sys.path[:] = [root] + [p for p in sys.path if not os.path.exists(os.path.join(p, "zapline"))]
assert importlib.util.find_spec("zapline") is None, "the installed package is visible"
import httpx

async def health(app, path):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://zapline.test") as client:
        response = await client.get(path)
        return response.status_code, response.json()

answers = {}
for name in %(functions)r:
    module = importlib.import_module("functions." + name)  # as Lambda imports functions/<name>.handler
    if %(lambda)r:
        assert callable(module.handler)
    answers[name] = asyncio.run(health(module.app, "/health"))
import zapline
print(json.dumps({
    "answers": answers,
    "zapline": zapline.__file__,
    "dev_only": sorted(m for m in sys.modules if m.startswith(%(dev_only)r)),
    "findable": [m for m in %(dev_only)r if importlib.util.find_spec(m) is not None],
}))
"""


@pytest.mark.parametrize("platform", PLATFORMS)
def test_bundle_serves_every_function_without_the_sandbox(platform: str, tmp_path: Path) -> None:
    files = bundle(platform)
    for path in files:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, tmp_path / path)
    script = CHILD_SERVES_HEALTH % {"functions": FUNCTIONS, "lambda": platform == "serverless", "dev_only": DEV_ONLY}
    result = run_fresh(script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["zapline"]).is_relative_to(tmp_path / "lib"), report["zapline"]
    assert report["dev_only"] == [] and report["findable"] == []
    for name in FUNCTIONS:
        status, body = report["answers"][name]
        assert status == 200 and body["function"] == name, (name, status, body)

    before = bundle_before(platform)
    lines, lines_before = python_lines(ROOT, files), python_lines(ROOT, before)
    print(f"{platform} bundle: {len(files)} files, {lines} lines of Python (before: {len(before)}, {lines_before})")
    assert lines < lines_before  # the sandbox and the dev tools stay out (above); the rest is what runs
    assert not [f for f in files if str(f).startswith(("lib/zapline/sandbox/", "lib/zapline/devtools/"))]


CHILD_LISTS_MODULES = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("functions.%(name)s", %(path)r)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module.handler  # Lambda's entry point, built on first access
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("name", FUNCTIONS)
def test_request_path_imports_no_dev_code(name: str, tmp_path: Path) -> None:
    script = CHILD_LISTS_MODULES % {"name": name, "path": str(ROOT / "functions" / f"{name}.py")}
    result = run_fresh(script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout)
    assert f"functions.{name}" in modules and "zapline.asgi" in modules
    assert [m for m in modules if m.startswith(DEV_ONLY)] == []
