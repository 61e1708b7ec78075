"""Benchmarks of intake + OCR through the real Dagster path: memory and incremental cost.

```bash
.venv/bin/python -m evals.bench_intake memory --pages 50,1000 [--work DIR]
.venv/bin/python -m evals.bench_intake incremental --base 1000 --new 10 [--work DIR]
```

Every measured run is a fresh subprocess (``_stage``) that claims the inbox files of a working
directory as one batch (``claim_now``, the dynamic partition added as the inbox sensor
does) and materializes ``raw_scans`` and ``ocr_text`` on a
persistent Dagster instance with the definitions' own resources. Pages are synthetic receipts
(``docasset.sim.synthetic.generate``): a small pool is generated once and copied with a
distinct PNG text chunk per file, so every file has its own content id (no duplicate detection
kicks in) and costs the same OCR as a generated one.

- ``memory``: one batch of each size, each in its own working directory; reports the stage
  process's peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss`` measured inside it, so Tesseract
  subprocesses are not counted) and the largest/smallest ratio (the rule: within 1.2).
- ``incremental``: on a working directory already holding ``--base`` processed pages (the
  memory run's ``mem-<base>`` directory when present), intake + OCR of ``--new`` new pages,
  against the same pages on an empty working directory. Reports both times and their ratio,
  every file of the old state the stage opened (audit hook on ``open``/``scandir``), whether
  old parquet/archive files were read (their atime is set far back first, so even a
  ``relatime`` mount records a read), which documents were OCR'd, and the measured cost of the
  lookups intake does in the documents index (duplicates: one indexed lookup per document,
  whatever the history; no manifest or ledger of the past is read).

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

_POOL_SIZE = 20
_POOL_SEED = 7
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PAST = 1_000_000_000.0  # 2001: older than any mtime, so a read shows even on relatime


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- pages --------------------------------------------------------------------------------------


def page_pool(work: Path, size: int = _POOL_SIZE) -> list[Path]:
    """Generated receipts to copy pages from (written once under ``work/pool``)."""
    from docasset.sim.synthetic.generate import generate

    pool = work / f"pool-{size}"
    imgs = sorted((pool / "img").glob("*.png")) if (pool / "img").is_dir() else []
    if len(imgs) < size:
        _log(f"generating {size} synthetic receipts into {pool}")
        shutil.rmtree(pool, ignore_errors=True)
        generate(pool, size, seed=_POOL_SEED, prefix="pool-")
        imgs = sorted((pool / "img").glob("*.png"))
    return imgs[:size]


def tag_png(data: bytes, text: str) -> bytes:
    """``data`` (a PNG) with a ``tEXt`` chunk inserted after IHDR: same pixels, other bytes."""
    if not data.startswith(_PNG_SIG):
        raise ValueError("not a PNG")
    ihdr_end = len(_PNG_SIG) + 8 + struct.unpack(">I", data[8:12])[0] + 4
    body = b"Comment\x00" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def write_pages(pool: list[Path], inbox: Path, n: int, tag: str) -> list[Path]:
    """Write ``n`` distinct single-page PNGs named ``<tag>-NNNNN.png`` into ``inbox``."""
    inbox.mkdir(parents=True, exist_ok=True)
    sources = [p.read_bytes() for p in pool]
    out = []
    for i in range(n):
        path = inbox / f"{tag}-{i:05d}.png"
        path.write_bytes(tag_png(sources[i % len(sources)], f"{tag}-{i}"))
        out.append(path)
    return out


# --- the measured stage (runs in a fresh subprocess) -----------------------------------------


def _paths(root: Path) -> tuple[Path, Path]:
    return root / "home", root / "dagster_home"


def stage(root: Path, audit: bool) -> dict[str, Any]:
    """Claim the inbox as one batch and materialize raw_scans + ocr_text; return measures."""
    import dagster as dg
    import polars as pl

    import docasset.core.ocr.tesseract as ocr_mod
    from docasset.core.intake.inbox import claim_now
    from docasset.core.intake.ledger import document_index
    from docasset.core.workdir import Workdir
    from docasset.definitions import build_definitions
    from docasset.defs.intake import raw_scans
    from docasset.defs.ocr import ocr_text
    from docasset.defs.settings import Settings

    home, dagster_home = _paths(root)
    dagster_home.mkdir(parents=True, exist_ok=True)
    wd = Workdir(home)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # Which documents reach Tesseract (ocr_document looks ocr_page up in the module).
    ocr_calls: list[str] = []
    real_ocr_page = ocr_mod.ocr_page

    def counting_ocr_page(*args: Any, **kwargs: Any) -> Any:
        ocr_calls.append(str(kwargs.get("doc_id")))
        return real_ocr_page(*args, **kwargs)

    ocr_mod.ocr_page = counting_ocr_page  # type: ignore[assignment]

    opened: set[str] = set()
    recording = False
    prefix = str(home.resolve())

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if recording and event in ("open", "os.scandir", "os.listdir") and args:
            target = args[0]
            if isinstance(target, (str, bytes, os.PathLike)):
                path = os.path.abspath(os.fsdecode(target))
                if path.startswith(prefix):
                    opened.add(path)

    if audit:
        sys.addaudithook(hook)
    defs = build_definitions(str(home), Settings(inbox={"settle_seconds": 0.0}))
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        recording = True
        started = time.perf_counter()
        [batch_claim] = claim_now(wd, batch_max_files=10**9)
        batch, files = batch_claim.batch_id, batch_claim.entries
        instance.add_dynamic_partitions("batches", [batch])
        claimed = time.perf_counter()
        res = dg.materialize(
            [raw_scans, ocr_text],
            partition_key=batch,
            instance=instance,
            resources=defs.resources,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        done = time.perf_counter()
        recording = False
        if not res.success:
            raise SystemExit(f"materialization of batch {batch} failed")
        steps = {
            ev.step_key: round(ev.event_specific_data.duration_ms / 1000, 3)
            for ev in res.get_step_success_events()
        }
        scans: pl.DataFrame = res.output_for_node("raw_scans")
        words: pl.DataFrame = res.output_for_node("ocr_text")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # Intake's history-dependent work, timed on its own: duplicate lookups in the index.
    index = document_index(wd)
    t0 = time.perf_counter()
    n_indexed = len(index.accepted_ids())
    t1 = time.perf_counter()
    probes = [f"{i:016x}" for i in range(200)]
    hits = sum(p in index for p in probes)
    t2 = time.perf_counter()
    ok = scans.filter(pl.col("status") == "ok")
    return {
        "batch": batch,
        "files": len(files),
        "pages_ok": ok.height,
        "statuses": dict(scans.unique(subset=["entry"]).group_by("status").len().iter_rows()),
        "words": words.height,
        "claim_s": round(claimed - started, 4),
        "materialize_s": round(done - claimed, 3),
        "total_s": round(done - started, 3),
        "steps_s": steps,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_after_imports_mb": round(rss_before / 1024, 1),
        "raw_scans_frame_mb": round(scans.estimated_size() / 2**20, 3),
        "ocr_text_frame_mb": round(words.estimated_size() / 2**20, 3),
        "ocr_pages": len(ocr_calls),
        "ocr_doc_ids": sorted(set(ocr_calls)),
        "batch_doc_ids": sorted(set(ok["doc_id"].to_list())),
        "opened": sorted(opened),
        "index_all_ids_s": round(t1 - t0, 5),
        "index_rows": n_indexed,
        "index_lookup_s": round((t2 - t1) / len(probes), 7),
        "index_lookup_hits": hits,
    }


def run_stage(root: Path, audit: bool = False) -> dict[str, Any]:
    """Run :func:`stage` in a fresh Python process and return its JSON."""
    cmd = [sys.executable, "-m", "evals.bench_intake", "_stage", "--root", str(root)]
    if audit:
        cmd.append("--audit")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    load = _load_avg()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"stage failed in {root} (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["loadavg_start"] = load
    out["loadavg_end"] = _load_avg()
    return out


def _fresh(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


def _summary(res: dict[str, Any]) -> dict[str, Any]:
    skip = ("ocr_doc_ids", "batch_doc_ids", "opened")
    return {k: v for k, v in res.items() if k not in skip}


# --- memory -------------------------------------------------------------------------------------


def memory(work: Path, sizes: list[int]) -> dict[str, Any]:
    """Peak RSS of one intake + OCR run per batch size, each on its own working directory."""
    pool = page_pool(work, min(_POOL_SIZE, max(sizes)))
    runs: dict[str, Any] = {}
    for n in sizes:
        root = _fresh(work / f"mem-{n}")
        home, _ = _paths(root)
        write_pages(pool, home / "inbox", n, f"m{n}")
        _log(f"memory: {n} pages ... (load {_load_avg()})")
        res = run_stage(root)
        (root / "bench.json").write_text(json.dumps(res, indent=1))
        _log(f"memory: {n} pages: peak RSS {res['peak_rss_mb']} MB in {res['total_s']} s")
        runs[str(n)] = _summary(res)
    peaks = [runs[str(n)]["peak_rss_mb"] for n in sizes]
    return {
        "mode": "memory",
        "work": str(work),
        "pool_images": len(pool),
        "sizes": sizes,
        "peak_rss_mb": {str(n): runs[str(n)]["peak_rss_mb"] for n in sizes},
        "ratio_max_over_min": round(max(peaks) / min(peaks), 4),
        "limit_ratio": 1.2,
        "runs": runs,
    }


# --- incremental --------------------------------------------------------------------------------


def _state_files(home: Path) -> dict[str, os.stat_result]:
    """Every file of a working directory except the inbox, with its stat."""
    return {
        str(p.resolve()): p.stat()
        for p in home.rglob("*")
        if p.is_file() and "inbox" not in p.relative_to(home).parts
    }


def scaled_intake_reads(sample_home: Path, batches: int, per_batch: int) -> dict[str, Any]:
    """Time intake's history-dependent work on a synthetic history of ``batches`` x
    ``per_batch`` accepted documents: building the documents index from the ledgers (once,
    for a working directory of an older docasset) and one duplicate lookup.

    The ledger lines are copies of real ones from ``sample_home`` with fresh doc ids, so the
    parse cost per line is the real one; no scan file is needed.
    """
    from docasset.core.intake.index import DocumentIndex
    from docasset.core.workdir import Workdir

    [ledger] = sorted((sample_home / "index").glob("*.jsonl"))[:1]
    lines = [json.loads(x) for x in ledger.read_text("utf-8").splitlines()]
    with tempfile.TemporaryDirectory(prefix="bench_ledgers_") as tmp:
        wd = Workdir(Path(tmp))
        for b in range(batches):
            rows = []
            for i in range(per_batch):
                rec = dict(lines[(b * per_batch + i) % len(lines)])
                rec.update(doc_id=f"{b * per_batch + i:016x}", status="ok", batch_id=f"b{b:06d}")
                rows.append(json.dumps(rec))
            (wd.index / f"b{b:06d}.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
        t0 = time.perf_counter()
        index = DocumentIndex.for_root(wd.root)
        t1 = time.perf_counter()
        probes = [f"{i * 7919:016x}" for i in range(1000)]
        hits = sum(p in index for p in probes)
        t2 = time.perf_counter()
        n_rows = len(index.accepted_ids())
    return {
        "batches": batches,
        "files": batches * per_batch,
        "index_backfill_s": round(t1 - t0, 4),
        "index_rows": n_rows,
        "index_lookup_s": round((t2 - t1) / len(probes), 7),
        "index_lookup_hits": hits,
    }


def _index_file(path: str) -> bool:
    return Path(path).parent.name == "index" and Path(path).name.startswith("documents.sqlite")


def _prepare_incremental(
    base_root: Path, inc_root: Path, pool: list[Path], new: int, tag: str
) -> dict[str, os.stat_result]:
    """Copy the processed base to ``inc_root``, backdate atimes, drop the new pages in.

    Returns the old state: every file but the inbox, with its stat after backdating.
    """
    # A copy, so the base (and the memory run's numbers) can be reused again.
    shutil.rmtree(inc_root, ignore_errors=True)
    shutil.copytree(base_root, inc_root, symlinks=True)
    inc_home, _ = _paths(inc_root)
    before = _state_files(inc_home)
    for path, st in before.items():
        os.utime(path, (_PAST, st.st_mtime))
    write_pages(pool[::-1], inc_home / "inbox", new, tag)
    return _state_files(inc_home)  # the inbox is left out


def incremental(work: Path, base: int, new: int, repeat: int = 1) -> dict[str, Any]:
    """Cost of a ``new``-page batch on top of ``base`` processed pages vs on an empty home.

    With ``repeat`` > 1 the pair is measured again on fresh copies, in alternating order (so
    neither side always runs first), and the fastest time of each side is compared.
    """
    pool = page_pool(work, min(_POOL_SIZE, max(base, new)))
    base_root = work / f"mem-{base}"
    prior = base_root / "bench.json"
    if not (prior.is_file() and json.loads(prior.read_text())["pages_ok"] == base):
        _log(f"incremental: processing the {base}-page base (load {_load_avg()})")
        base_root = _fresh(base_root)
        write_pages(pool, _paths(base_root)[0] / "inbox", base, f"m{base}")
        prior.write_text(json.dumps(run_stage(base_root), indent=1))
    inc_root = work / f"inc-{base}"
    inc_home, _ = _paths(inc_root)
    old_batches = {p.stem for p in (_paths(base_root)[0] / "batches").glob("*.json")}
    tag = f"n{new}"
    base_runs: list[dict[str, Any]] = []
    empty_runs: list[dict[str, Any]] = []
    for r in range(repeat):
        before = _prepare_incremental(base_root, inc_root, pool, new, tag)
        empty_root = _fresh(work / f"empty-{new}")
        write_pages(pool[::-1], _paths(empty_root)[0] / "inbox", new, tag)
        for side in ("base", "empty") if r % 2 == 0 else ("empty", "base"):
            _log(f"incremental {r + 1}/{repeat}: {new} pages on {side} (load {_load_avg()})")
            if side == "base":
                base_runs.append(run_stage(inc_root, audit=True))
            else:
                empty_runs.append(run_stage(empty_root, audit=True))
    on_base = min(base_runs, key=lambda x: x["total_s"])
    on_empty = min(empty_runs, key=lambda x: x["total_s"])

    after = _state_files(inc_home)
    # A vanished old file counts as both read and modified.
    read_old = sorted(p for p in before if p not in after or after[p].st_atime != _PAST)
    changed_old = sorted(
        p for p, st in before.items() if p not in after or after[p].st_mtime != st.st_mtime
    )
    opened_old = sorted(p for p in on_base["opened"] if p in before)

    def by_design(path: str) -> bool:
        # Intake opens the documents index and the claim lock (in index/ and batches/) by
        # design, never an old manifest or ledger; anything else old is a finding.
        return Path(path).parent.name in ("batches", "index")

    new_ids = set(on_base["batch_doc_ids"])
    return {
        "mode": "incremental",
        "work": str(work),
        "base_pages": base,
        "base_batches": len(old_batches),
        "new_pages": new,
        "repeat": repeat,
        "on_base_s": on_base["total_s"],
        "on_empty_s": on_empty["total_s"],
        "on_base_all_s": [x["total_s"] for x in base_runs],
        "on_empty_all_s": [x["total_s"] for x in empty_runs],
        "on_base_steps_s": on_base["steps_s"],
        "on_empty_steps_s": on_empty["steps_s"],
        "ratio_base_over_empty": round(on_base["total_s"] / on_empty["total_s"], 4),
        "on_base_materialize_s": on_base["materialize_s"],
        "on_empty_materialize_s": on_empty["materialize_s"],
        "ocr_pages_on_base": on_base["ocr_pages"],
        "ocr_only_new_docs": set(on_base["ocr_doc_ids"]) <= new_ids
        and len(new_ids) == on_base["pages_ok"] == new,
        "old_files": len(before),
        "old_files_opened_by_design": [p for p in opened_old if by_design(p)],
        "old_files_read_by_design_atime": [p for p in read_old if by_design(p)],
        "old_data_files_opened": [p for p in opened_old if not by_design(p)],
        "old_data_files_read_atime": [p for p in read_old if not by_design(p)],
        # The documents index takes the new documents' rows: modified by design.
        "old_files_modified_by_design": [p for p in changed_old if _index_file(p)],
        "old_files_modified": [p for p in changed_old if not _index_file(p)],
        "intake_total_reads": {
            "manifests": len(old_batches) + 1,
            "index_rows": on_base["index_rows"],
            "index_all_ids_s": on_base["index_all_ids_s"],
            "index_lookup_s": on_base["index_lookup_s"],
        },
        # The same reads on a long history (200 batches of 500 files = 100,000 files).
        "intake_total_reads_at_100k_files": scaled_intake_reads(inc_home, 200, 500),
        "on_base": _summary(on_base),
        "on_empty": _summary(on_empty),
    }


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints one JSON object on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mem = sub.add_parser("memory", help="peak RSS per batch size")
    mem.add_argument("--pages", default="50,1000", help="comma-separated batch sizes")
    inc = sub.add_parser("incremental", help="a small batch on top of a processed base")
    inc.add_argument("--base", type=int, default=1000)
    inc.add_argument("--new", type=int, default=10)
    inc.add_argument("--repeat", type=int, default=1, help="alternating pairs; fastest kept")
    for p in (mem, inc):
        p.add_argument("--work", type=Path, default=None, help="kept working dir (default: tmp)")
    st = sub.add_parser("_stage", help=argparse.SUPPRESS)
    st.add_argument("--root", type=Path, required=True)
    st.add_argument("--audit", action="store_true")
    args = ap.parse_args(argv)

    if args.cmd == "_stage":
        print(json.dumps(stage(args.root, args.audit)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_intake_") as tmp:
        work = (args.work or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        if args.cmd == "memory":
            sizes = [int(x) for x in args.pages.split(",") if x.strip()]
            if not sizes or min(sizes) < 1:
                ap.error("--pages needs positive sizes")
            out = memory(work, sizes)
        else:
            if args.base < 1 or args.new < 1:
                ap.error("--base and --new must be >= 1")
            out = incremental(work, args.base, args.new, max(1, args.repeat))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
