"""Delete from a virtual environment what scripts/space_prune.txt lists, and say how much it was.

    python scripts/prune_venv.py SITE_PACKAGES [--dry-run]

Prints one line per pattern (files, MB) and the total; --dry-run deletes nothing. A pattern that
matches nothing is reported as 0 (a CPU-only torch has no NVIDIA libraries to delete).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

LIST = Path(__file__).with_name("space_prune.txt")


def patterns(path: Path = LIST) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _size(path: Path) -> tuple[int, int]:
    if path.is_dir() and not path.is_symlink():
        files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        return len(files), sum(p.stat().st_size for p in files)
    return 1, path.lstat().st_size


def matches(site_packages: Path, pattern: str) -> list[Path]:
    return sorted(site_packages.glob(pattern.rstrip("/")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site_packages", type=Path)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    total = 0
    for pattern in patterns():
        found = matches(args.site_packages, pattern)
        count = size = 0
        for path in found:
            n, b = _size(path)
            count, size = count + n, size + b
            if not args.dry_run:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        total += size
        print(f"{size / 1e6:9.1f} MB {count:6d} files  {pattern}")
    print(f"{total / 1e6:9.1f} MB in all {'would be ' if args.dry_run else ''}deleted")


if __name__ == "__main__":
    main()
