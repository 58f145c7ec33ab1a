"""Real filings in: `make bench` (python bench/bench_filings.py).

For each SEC filing in $FINRAG_DATA_DIR/../filings (the 8 of ../shared/filings):
1. Parse: seconds, section pages, chunks by kind, inline XBRL facts, and the table-parse accuracy: the share of the
   displayed facts that read back from the cell (or text) they were placed in, and of the facts in dated columns whose
   period ends in a year the column header names.
2. Ingest with the real embedding model into a fresh FINRAG_HOME and an empty embedding cache: wall seconds,
   chunks/s and the peak memory (max RSS) of that process, for all-mpnet-base-v2 (the default) and all-MiniLM-L6-v2.
3. The PDF route: each filing printed to PDF by headless chromium, read back; the share of the HTML's tagged table
   cells the PDF's tables show in a row with the same label.

Each ingest runs in its own process so that its time and memory are its own; run it with nothing else loading the
CPU. Results are printed and written to bench/results/filings.json.
"""
from __future__ import annotations
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

INGEST = """
import json, resource, sys, time
from pathlib import Path
from finrag.config import Settings
from finrag.files import ingest_files
t0 = time.perf_counter()
r = ingest_files([Path(sys.argv[1])], settings=Settings(embed_model=sys.argv[2]), progress=False)
print(json.dumps(dict(seconds=time.perf_counter() - t0, chunks=r.chunks_added, facts=r.facts, ok=r.ok, errors=r.errors[:3],
                      max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def parse_figures(path: Path) -> dict:
    "Parse one filing: time, pages, chunks by kind, facts, read-back and period shares."
    from finrag.filings import check_facts, read_filing
    from finrag.ingest import chunk_page
    t0 = time.perf_counter()
    ds = read_filing(path.read_bytes(), path.name)
    secs = time.perf_counter() - t0
    kinds = Counter(c.kind for p in ds.pages.values() for c in chunk_page(p))
    c = check_facts(ds)
    return dict(parse_s=round(secs, 2), pages=len(ds.pages), chunks=sum(kinds.values()), **{f"{k}_chunks": n for k, n in kinds.items()},
                facts=len(ds.facts), facts_shown=c.facts, read_back=round(c.read_back / c.facts, 4) if c.facts else None,
                period_ok=round(c.period_ok / c.dated, 4) if c.dated else None, misses=c.misses[:3])


def ingest_figures(path: Path, model: str) -> dict:
    "Ingest one filing in a fresh process and FINRAG_HOME (models linked from the dev home): seconds, chunks/s, peak memory."
    home = Path(tempfile.mkdtemp(prefix='finrag-bench-'))
    models = Path(os.environ.get('FINRAG_HOME', REPO/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models)
    env = {**os.environ, 'FINRAG_HOME': str(home), 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    try:
        out = subprocess.run([sys.executable, '-c', INGEST, str(path), model], env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally: shutil.rmtree(home, ignore_errors=True)
    return dict(seconds=round(r['seconds'], 1), chunks_per_s=round(r['chunks'] / r['seconds'], 1), max_rss_mb=round(r['max_rss_mb']), ok=r['ok'])


def pdf_figures(path: Path, chromium: str) -> dict:
    "Print the filing to PDF, read it back and compare its tables with the HTML's."
    from finrag.filings import read_filing
    from finrag.pdf import compare_tables, read_pdf
    pdf = Path(tempfile.mkdtemp())/f"{path.stem}.pdf"
    subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--no-pdf-header-footer', f'--print-to-pdf={pdf}', path.as_uri()],
                   check=True, capture_output=True, timeout=300)
    t0 = time.perf_counter()
    ds = read_pdf(pdf.read_bytes(), pdf.name)
    secs = time.perf_counter() - t0
    tagged, found = compare_tables(read_filing(path.read_bytes(), path.name), ds)
    return dict(pdf_read_s=round(secs, 1), pdf_pages=len(ds.pages), pdf_cells=tagged, pdf_found=round(found / tagged, 4) if tagged else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--models', default='all-mpnet-base-v2,all-MiniLM-L6-v2', help="embedding models to ingest with ('' for none)")
    ap.add_argument('--only', default='', help="only filings whose name contains this")
    ap.add_argument('--no-pdf', action='store_true')
    args = ap.parse_args()
    from finrag.config import Settings
    folder = Settings().data_dir.parent/'filings'
    chromium = shutil.which('chromium')
    rows = []
    for path in sorted(folder.glob('*.htm*')):
        if args.only not in path.name: continue
        row = dict(filing=path.name, mb=round(path.stat().st_size / 2**20, 2), **parse_figures(path))
        for m in filter(None, args.models.split(',')): row[m] = ingest_figures(path, m)
        if chromium and not args.no_pdf: row.update(pdf_figures(path, chromium))
        rows.append(row); print(json.dumps(row), flush=True)
    out = HERE/'results'/'filings.json'
    out.write_text(json.dumps(dict(machine=dict(cpus=os.cpu_count()), rows=rows), indent=1))
    print(f"written to {out}")


if __name__ == '__main__':
    main()
