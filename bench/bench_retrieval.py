"""Retrieval speed and scale: `make bench` (python bench/bench_retrieval.py).

1. Ingestion throughput (chunks/s) per embedding model, on a sample of FinQA dev pages, with an empty embedding
   cache (so every chunk is really embedded), CPU only.
2. Query latency p50/p95 for dense, BM25, hybrid (RRF) and hybrid + local rerank, open mode and page-scoped, at 10k and
   100k chunks. The corpora are synthetic FinQA-like pages; their vectors come from a fake embedder (a random unit
   vector per text, 768 dimensions like mpnet), so the numbers measure the index, not the model. The real model's
   query encoding time is measured separately and must be added for an end-to-end figure.
3. Peak memory (max RSS) of each scale's process.

Each scale runs in its own process so that its peak memory is its own. Results are printed as a table and written to
bench/results/retrieval.json.
"""
from __future__ import annotations
import argparse, hashlib, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

HERE = Path(__file__).resolve().parent
WORDS = ("revenue net income operating expenses total cash flows capital lease obligations purchase commitments pension plan "
         "assets liabilities interest rate debt long-term short-term segment sales cost goods sold gross margin tax provision "
         "deferred goodwill impairment amortization depreciation dividends shares repurchase stock compensation thereafter "
         "fair value securities derivative hedge foreign currency exchange inventory receivables payables accrued").split()


class RandomEmbedder:
    "A deterministic random unit vector per text (seeded by its hash): index cost without model cost."
    def __init__(self, dim: int = 768): self.dim, self.name = dim, f"random-{dim}"

    def embed(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:12], 16)).standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def synthetic_pages(n_chunks: int, seed: int = 0):
    "FinQA-like pages (~12 sentences and a 12-row, 3-column table each) adding up to about `n_chunks` chunks."
    from finrag.data import Page, Table
    rng = np.random.default_rng(seed)
    words = lambda k: ' '.join(rng.choice(WORDS, k))
    pages = []
    for p in range(n_chunks // 25 + 1):
        yr = int(rng.integers(2005, 2020))
        rows = [[words(3), f"$ {rng.integers(1, 99999):,}", f"{rng.uniform(1, 999):.1f}"] for _ in range(12)]
        texts = [f"{words(12)} {rng.integers(1, 5000)} million in {yr} ." for _ in range(12)]
        pages.append(Page(id=f"S{p % 300}/{yr}/page_{p}.pdf", company=f"S{p % 300}", year=yr, texts=texts,
                          tables=[Table(header=['', str(yr), str(yr - 1)], rows=rows)]))
    return pages


def pct(xs, q): return float(np.percentile(np.array(xs) * 1000, q))


def timed(fn, queries):
    "p50/p95 latency in ms of `fn(q)` over the queries (after 3 warm-up calls)."
    for q in queries[:3]: fn(q)
    ts = []
    for q in queries:
        t = time.perf_counter(); fn(q); ts.append(time.perf_counter() - t)
    return {'p50_ms': round(pct(ts, 50), 2), 'p95_ms': round(pct(ts, 95), 2)}


def run_scale(n_chunks: int, n_queries: int) -> dict:
    "Build a synthetic index of ~n_chunks and time each retrieval path (run in a child process)."
    from finrag.config import Settings
    from finrag.ingest import Index, tokenize
    from finrag.retrieve import LocalReranker, Retriever
    import chromadb  # its import takes seconds: keep it out of the build time
    home = Path(tempfile.mkdtemp(prefix=f'finrag-bench-{n_chunks}-'))
    s = Settings(home=home, data_dir=None, collection='bench')
    ix = Index(s, embedder=RandomEmbedder(), group_pages=64)
    pages = synthetic_pages(n_chunks)
    t = time.perf_counter(); rep = ix.add_pages(pages, progress=False); build_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    queries = [f"what was the {' '.join(rng.choice(WORDS, 3))} in {rng.integers(2005, 2020)}?" for _ in range(n_queries)]
    qpages = [pages[int(i)].id for i in rng.integers(0, len(pages), n_queries)]
    emb, col, bm = ix.embedder, ix.collection, ix.bm25
    hybrid, rerank = Retriever(s, index=ix, reranker=None), Retriever(s, index=ix, reranker=LocalReranker())
    out = {'chunks': ix.count(), 'pages': len(pages), 'build_s': round(build_s, 1), 'ingest_chunks_per_s': round(rep.chunks_per_s)}
    out['open_dense'] = timed(lambda q: col.query(query_embeddings=[emb.embed([q])[0].tolist()], n_results=10, include=[]), queries)
    out['open_bm25'] = timed(lambda q: np.argpartition(-bm.score(tokenize(q)), 10)[:10], queries)
    out['open_hybrid'] = timed(lambda q: hybrid.retrieve(q, k=10), queries)
    out['open_hybrid_rerank'] = timed(lambda q: rerank.retrieve(q, k=10), queries)
    out['open_hybrid_filtered'] = timed(lambda q: hybrid.retrieve(q, company='S7', k=10), queries)
    it = iter(qpages * 2)
    out['page_hybrid_rerank_cold'] = timed(lambda q: rerank.retrieve(q, page_id=next(it), k=5), queries)
    out['page_hybrid_rerank_warm'] = timed(lambda q: rerank.retrieve(q, page_id=qpages[0], k=5), queries)
    out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def ingest_throughput(model: str, n_pages: int) -> dict:
    "Chunks/s ingesting `n_pages` FinQA dev pages with `model`, cache empty, plus one query's encoding time."
    from finrag.config import Settings
    from finrag.data import load
    from finrag.ingest import Index, make_embedder
    s = Settings(home=Path(tempfile.mkdtemp(prefix='finrag-bench-ingest-')), embed_model=model, collection='throughput')
    s.models_dir.parent.mkdir(parents=True, exist_ok=True)
    (s.home / 'models').symlink_to(Settings().models_dir)  # reuse assembled models, not the embedding cache
    pages = list(load(Path(s.data_dir) / 'finqa/dev_200.json').pages.values())[:n_pages]
    emb = make_embedder(s)
    emb.inner.embed(['warm up the model'])
    rep = Index(s, embedder=emb).add_pages(pages, progress=False)
    if rep.errors: raise SystemExit(rep.summary())
    t = time.perf_counter()
    for i in range(20): emb.inner.embed([f"what was the change in net revenue from 2017 to 2018 ({i})?"])
    return {'model': model, 'pages': n_pages, 'chunks': rep.chunks_added, 'seconds': round(rep.seconds, 1),
            'chunks_per_s': round(rep.chunks_per_s, 1), 'query_encode_ms': round((time.perf_counter() - t) / 20 * 1000, 1),
            'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def child(args) -> dict:
    "Run one measurement in a fresh process and return its JSON."
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--scales', type=int, nargs='*', default=[10_000, 100_000])
    ap.add_argument('--queries', type=int, default=200)
    ap.add_argument('--models', nargs='*', default=['all-MiniLM-L6-v2', 'all-mpnet-base-v2'])
    ap.add_argument('--sample-pages', type=int, default=8, help='dev pages embedded per model for throughput')
    ap.add_argument('--scale', type=int, help=argparse.SUPPRESS)
    ap.add_argument('--ingest-model', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.scale: print(json.dumps(run_scale(a.scale, a.queries))); return
    if a.ingest_model: print(json.dumps(ingest_throughput(a.ingest_model, a.sample_pages))); return
    res = {'cpu_count': os.cpu_count(), 'ingest': [], 'scales': []}
    for m in a.models:
        res['ingest'].append(r := child(['--ingest-model', m, '--sample-pages', str(a.sample_pages)])); print(r, flush=True)
    for n in a.scales:
        res['scales'].append(r := child(['--scale', str(n), '--queries', str(a.queries)])); print(r, flush=True)
    (HERE / 'results').mkdir(exist_ok=True)
    (HERE / 'results' / 'retrieval.json').write_text(json.dumps(res, indent=1))
    print('\n| model | chunks | chunks/s | query encode ms |\n|---|---|---|---|')
    for r in res['ingest']: print(f"| {r['model']} | {r['chunks']} | {r['chunks_per_s']} | {r['query_encode_ms']} |")
    paths = [k for k in res['scales'][0] if isinstance(res['scales'][0][k], dict)] if res['scales'] else []
    print('\n| path | ' + ' | '.join(f"{r['chunks']:,} chunks p50 / p95 ms" for r in res['scales']) + ' |')
    print('|---|' + '---|' * len(res['scales']))
    for p in paths: print(f"| {p} | " + ' | '.join(f"{r[p]['p50_ms']} / {r[p]['p95_ms']}" for r in res['scales']) + ' |')
    for r in res['scales']: print(f"{r['chunks']:,} chunks: build {r['build_s']} s ({r['ingest_chunks_per_s']} chunks/s, fake vectors), peak RSS {r['peak_rss_mb']} MB")
    if res['scales'] and res['scales'][-1]['open_hybrid']['p95_ms'] >= 100: print('WARNING: hybrid p95 at the largest scale is over 100 ms')


if __name__ == '__main__':
    main()
