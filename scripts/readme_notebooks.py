"""The README's notebook table: each notebook's name links to its executed copy and, once the repository is known, an
"Open in Colab" badge opens its source. The repository is configured in one place, `[tool.vpr_kit] repository` in
pyproject.toml ("owner/name" on GitHub; empty: no badges). Rewrites README.md in place; `--check` only says whether
it is in sync (tests/test_committed_study.py runs it).

    python scripts/readme_notebooks.py [--check]
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| \[`(?P<name>\d\d_\w+)`\]\(results/executed/(?P=name)\.ipynb\)(?: \[!\[Open in Colab\]\([^)]*\)\]\([^)]*\))? \|",
                 re.MULTILINE)
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository() -> str:
    """'owner/name' from pyproject.toml, or '' (not configured)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text()).get("tool", {}).get("vpr_kit", {})
    repo = str(config.get("repository", "")).strip()
    if repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise SystemExit(f"pyproject.toml [tool.vpr_kit] repository must be 'owner/name' on GitHub, got {repo!r}")
    return repo


def with_links(readme: str, repo: str, branch: str = "main") -> str:
    """README text whose notebook rows carry a Colab badge for `repo` (none when repo is '')."""
    def row(match: re.Match) -> str:
        name = match["name"]
        badge = (f" [![Open in Colab]({BADGE})](https://colab.research.google.com/github/{repo}/blob/{branch}/"
                 f"notebooks/{name}.ipynb)" if repo else "")
        return f"| [`{name}`](results/executed/{name}.ipynb){badge} |"
    return ROW.sub(row, readme)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when README.md is not in sync")
    args = ap.parse_args()
    readme = (ROOT / "README.md").read_text()
    wanted = with_links(readme, repository())
    if args.check:
        if wanted != readme:
            print("README.md's notebook table is not in sync: run python scripts/readme_notebooks.py", file=sys.stderr)
            return 1
        return 0
    (ROOT / "README.md").write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
