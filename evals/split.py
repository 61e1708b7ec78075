"""Split a labelled folder into two by a stable hash of the document id (symlinks, no copies).

    python -m evals.split --dataset ../shared/sroie-dev --out /tmp/sroie-halves [--fraction 0.5]

Writes ``OUT/a`` (about ``fraction`` of the documents) and ``OUT/b`` (the rest) as labelled
folders whose files are symbolic links to the originals, so data never gets copied into a repo.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder


def split_folder(src: Path, out: Path, fraction: float = 0.5) -> tuple[Path, Path]:
    """Create ``out/a`` and ``out/b``; returns their paths."""
    docs = read_labelled_folder(src)
    parts = (out / "a", out / "b")
    for p in parts:
        (p / "img").mkdir(parents=True, exist_ok=True)
        (p / "key").mkdir(parents=True, exist_ok=True)
    for d in docs:
        h = int(hashlib.sha256(d.id.encode()).hexdigest()[:8], 16) / 2**32
        dst = parts[0] if h < fraction else parts[1]
        for link, target in (
            (dst / "img" / d.image.name, d.image),
            (dst / "key" / f"{d.id}.json", src / "key" / f"{d.id}.json"),
        ):
            if not link.exists():
                link.symlink_to(target.resolve())
    return parts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.split", description=__doc__)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fraction", type=float, default=0.5)
    a = p.parse_args(argv)
    if not (Path(a.dataset) / "img").is_dir():
        print(f"{a.dataset}: not a labelled folder (no img/)", file=sys.stderr)
        return 2
    for part in split_folder(Path(a.dataset), Path(a.out), a.fraction):
        print(part, len(list((part / "img").iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
