"""Split a labelled folder into two by a stable hash of the document id (symlinks, no copies).

    python -m evals.split --dataset ../shared/sroie-dev --out /tmp/sroie-halves [--fraction 0.5]
    python -m evals.split --dataset ../shared/vrdu-dev --out /tmp/vrdu --first 100

Writes ``OUT/a`` (about ``fraction`` of the documents) and ``OUT/b`` (the rest) as labelled
folders whose files are symbolic links to the originals, so data never gets copied into a repo.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from docasset.core.datasets.labelled import read_labelled_folder


def split_folder(
    src: Path, out: Path, fraction: float = 0.5, first: int | None = None
) -> tuple[Path, Path]:
    """Create ``out/a`` and ``out/b``; returns their paths. With ``first``, ``a`` holds the
    first ``first`` documents by sorted id and ``b`` the rest (vrdu-dev: train on 100, score
    50) instead of the hash split."""
    docs = read_labelled_folder(src)  # sorted by id
    parts = (out / "a", out / "b")
    for p in parts:
        (p / "img").mkdir(parents=True, exist_ok=True)
        (p / "key").mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(docs):
        h = int(hashlib.sha256(d.id.encode()).hexdigest()[:8], 16) / 2**32
        in_a = i < first if first is not None else h < fraction
        dst = parts[0] if in_a else parts[1]
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
    p.add_argument("--first", type=int, help="a: the first N documents by sorted id, b: the rest")
    a = p.parse_args(argv)
    if not (Path(a.dataset) / "img").is_dir():
        print(f"{a.dataset}: not a labelled folder (no img/)", file=sys.stderr)
        return 2
    for part in split_folder(Path(a.dataset), Path(a.out), a.fraction, a.first):
        print(part, len(list((part / "img").iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
