"""Secrets a laptop keeps beside the code (`.env` files, Streamlit's `.streamlit/secrets.toml`)
reach neither a commit nor the image: git ignores them and the image's build context leaves them
out, matched as each tool matches its ignore file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRETS = [".env", ".env.local", "backend/.env", "deploy/space.env", ".streamlit/secrets.toml"]


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore line as Docker reads it: relative to the context's root, `*` and `?` within
    one path part, `**` across any number of parts."""
    pattern = pattern.strip("/")
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(part, re.escape(part)) for part in parts))


def _left_out_of_the_image(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context: the last matching line wins (a
    `!` line lets it back in), and a line matching a folder keeps out everything in it."""
    prefixes = ["/".join(path.split("/")[: n + 1]) for n in range(path.count("/") + 1)]
    left_out = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), _docker_pattern(line.lstrip("!"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            left_out = not negated
    return left_out


def test_the_docker_pattern_reader_reads_patterns_as_docker_does():
    assert _left_out_of_the_image(".git/config") and _left_out_of_the_image("backend/x/__pycache__/a.pyc")
    assert not _left_out_of_the_image("app.py") and not _left_out_of_the_image("backend/runtime/public_mode.py")


@pytest.mark.parametrize("path", SECRETS)
def test_git_ignores_secrets(path):
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"git would commit {path}"


@pytest.mark.parametrize("path", SECRETS)
def test_the_image_leaves_secrets_out(path):
    assert _left_out_of_the_image(path), f"the image's build context would carry {path}"
