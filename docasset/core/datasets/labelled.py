"""The labelled-folder format: ``DIR/img/<id>.<jpg|png|tif|tiff|pdf>`` + ``DIR/key/<id>.json``.

``key/<id>.json`` is a JSON object mapping field name to the value as printed on the document
(``{}`` for a document without fields, e.g. an irrelevant page). ``../shared/sroie-dev`` and the
synthetic fixtures use this format; it is also how labelled documents are imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from docasset.errors import LabelledDataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf")


@dataclass(frozen=True)
class LabelledDoc:
    """One labelled document: its id (file stem), image path and printed field values."""

    id: str
    image: Path
    fields: dict[str, str]


def read_key(path: Path) -> dict[str, str]:
    """Read one key file, raising ``LabelledDataError`` with the file and reason."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelledDataError(f"{path}: unreadable key file ({exc})") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise LabelledDataError(f"{path}: key must be a JSON object of field -> string value")
    return data


def read_labelled_folder(root: Path, *, require_keys: bool = True) -> list[LabelledDoc]:
    """All documents of a labelled folder, sorted by id.

    Raises ``LabelledDataError`` when the folder is missing, has no images, or (with
    ``require_keys``) an image has no key file; the message names every offending file.
    """
    img_dir, key_dir = root / "img", root / "key"
    if not img_dir.is_dir():
        raise LabelledDataError(f"{root}: not a labelled folder (no img/ directory)")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise LabelledDataError(f"{img_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    docs: list[LabelledDoc] = []
    missing: list[str] = []
    for img in images:
        key = key_dir / f"{img.stem}.json"
        # A labelled folder is a curated data set, and evals.split builds halves of symlinks:
        # its links are followed here (intake refuses links only in the inbox's stream).
        image = img.resolve() if img.is_symlink() else img
        if key.is_file():
            docs.append(LabelledDoc(img.stem, image, read_key(key)))
        elif require_keys:
            missing.append(img.name)
        else:
            docs.append(LabelledDoc(img.stem, image, {}))
    if missing:
        raise LabelledDataError(f"{key_dir}: no key for {len(missing)} image(s): {missing[:10]}")
    return docs
