"""Retrieval quality: fit the local reranker's weights (on train data only) and print the recall table (on dev).

    python bench/eval_retrieval_table.py fit --train train:mpnet train:minilm conv:minilm --C 0.1
        # fit LEXICAL_WEIGHTS: FinQA train_100 (both models) and ConvFinQA pages that are not in dev (MiniLM)
    python bench/eval_retrieval_table.py fit --train train:mpnet train:minilm --check --C 0.03 \
        --cross train=bench/cross-minilm-lora.safetensors
        # fit CROSS_RERANK_WEIGHTS (cross_encoder.py: the lexical features plus the cross-encoder's) on train_100 alone:
        # the cross-encoder never saw it, so its scores there are out of fold; --cross NAME=WEIGHTS gives file NAME's
        # cross-encoder (the cross-encoder is not in the runtime: nbs/03_retrieve.ipynb, last section)
    python bench/eval_retrieval_table.py table  # page-scoped and open recall on FinQA dev_200, per configuration

Each (file, embedding model) pair is ingested into its own collection under FINRAG_HOME (default ./.finrag); embeddings
are cached, so a second run only scores. dev_200 is the yardstick: nothing here is tuned on it.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path
import numpy as np
from finrag.config import Settings
from finrag.data import load
from finrag.ingest import Index, make_embedder
from finrag.retrieve import (FEATURES, LEXICAL_WEIGHTS, LocalReranker, Retriever, eval_questions, eval_retrieval, feature_matrix,
                             format_metrics, question_query, _hits, Evidence)
from cross_encoder import CROSS_FEATURES, CROSS_RERANK_WEIGHTS, CrossEncoder, CrossReranker, cross_feature_matrix  # this folder is on sys.path

MODELS = {'mpnet': 'all-mpnet-base-v2', 'minilm': 'all-MiniLM-L6-v2'}
FILES = {'train': 'finqa/train_100.json', 'dev': 'finqa/dev_200.json', 'conv': 'convfinqa/convfinqa_dev_part1.json',
         'tat': 'tatqa/tatqa_dataset_dev.json'}


def settings_for(name: str, model: str) -> Settings:
    "Settings whose collection holds file `name` embedded with `model`."
    return Settings(embed_model=MODELS[model], collection=f"{name}-{model}")


def path_of(name: str) -> Path:
    return Path(Settings().data_dir) / FILES[name]


def retriever_for(name: str, model: str, skip_pages: set[str] = frozenset(), **kw) -> Retriever:
    "A retriever over the collection of file `name` (less `skip_pages`), ingesting it first (a no-op once done)."
    s = settings_for(name, model)
    ix = Index(s, embedder=make_embedder(s, progress=True))
    ix.add_pages([p for p in load(path_of(name)).pages.values() if p.id not in skip_pages])
    return Retriever(s, index=ix, **kw)


def candidates(rt: Retriever, name: str, exclude_pages: set[str] = frozenset(), cross: CrossEncoder | None = None,
               cross_columns: bool = False):  # the two cross features after FEATURES (`cross`'s scores, 0 without one)
    "Per question: (X features, y gold labels) over all page candidates, first stage only."
    out = []
    for q in eval_questions(load(path_of(name)).questions):
        if q.page_id in exclude_pages: continue
        query = question_query(q)
        ev = rt.retrieve(query, page_id=q.page_id, k=1000, rerank=False)
        col = lambda k: np.array([e.scores[k] for e in ev])
        inputs = query, [e.chunk for e in ev], col('dense'), col('bm25'), col('fused')
        X = (cross_feature_matrix(*inputs, cross.score(query, [e.chunk.text for e in ev]) if cross else None) if cross or cross_columns
             else feature_matrix(*inputs))
        y = np.array([any(_hits(g, e, q.page_id) for g in q.evidence) for e in ev], dtype=float)
        out.append((X, y, len(q.evidence)))
    return out


def recall_at(groups, w: np.ndarray, ks=(1, 3, 5)) -> dict:
    "recall@k (per question, averaged) and all@k of ranking each group by X @ w (gold facts missing from the page are misses)."
    rec = {k: 0.0 for k in ks}; allk = {k: 0 for k in ks}
    for X, y, n in groups:
        order = np.argsort(-(X @ w), kind='stable')
        for k in ks:
            h = int(y[order[:k]].sum()); rec[k] += h / n; allk[k] += h >= n
    return {**{f"R@{k}": round(100 * rec[k] / len(groups), 1) for k in ks}, **{f"All@{k}": round(100 * allk[k] / len(groups), 1) for k in ks}}


def fit_pairwise(groups, C: float = 1.0) -> np.ndarray:
    "Weights from a pairwise logistic ranker: every (gold, other) pair of one question, both ways round."
    from sklearn.linear_model import LogisticRegression
    diffs = []
    for X, y, _ in groups:
        pos, neg = X[y == 1], X[y == 0]
        if len(pos) and len(neg): diffs.append((pos[:, None, :] - neg[None, :, :]).reshape(-1, X.shape[1]))
    D = np.vstack(diffs)
    clf = LogisticRegression(C=C, max_iter=5000, fit_intercept=False).fit(np.vstack([D, -D]), np.r_[np.ones(len(D)), np.zeros(len(D))])
    return clf.coef_[0]


def fit(args):
    "Fit LEXICAL_WEIGHTS (with --cross: CROSS_RERANK_WEIGHTS) by logistic regression on train data; report train CV and held-out sets."
    from sklearn.linear_model import LogisticRegression
    dev_pages = set(load(path_of('dev')).pages)
    sets, cross = {}, dict(kv.split('=', 1) for kv in args.cross)  # file name -> out-of-fold cross-encoder weights
    names = CROSS_FEATURES if cross else FEATURES
    for spec in args.train + args.check:  # 'name' or 'name:model'
        n, _, model = spec.partition(':')
        ce = CrossEncoder(Path(cross[n])) if n in cross else None
        sets[spec] = candidates(retriever_for(n, model or args.model, dev_pages, reranker=None), n, dev_pages, ce, cross_columns=bool(cross))
    if args.drop:  # leave features out of the model (their columns zeroed)
        cols = [names.index(f) for f in args.drop]
        for groups in sets.values():
            for X, _, _ in groups: X[:, cols] = 0.0
    folds = 5  # a question's fold is its index within its file, so one question under two models stays in one fold
    train = [(i % folds, g) for n in args.train for i, g in enumerate(sets[n])]
    w = fit_pairwise([g for _, g in train], args.C)
    cv = [fit_pairwise([g for f2, g in train if f2 != f], args.C) for f in range(folds)]
    for n in args.train:
        print(f"{n:12} 5-fold CV", {k: round(float(np.mean([recall_at([g for i, g in enumerate(sets[n]) if i % folds == f], cv[f])[k]
                                                           for f in range(folds)])), 1) for k in ('R@1', 'R@3', 'R@5', 'All@3', 'All@5')})
    print('weights:', json.dumps({f: round(float(v), 3) for f, v in zip(names, w)}))
    base = np.array([1.0 if f == 'fused' else 0.0 for f in names])
    cur = np.array([(CROSS_RERANK_WEIGHTS if cross else LEXICAL_WEIGHTS).get(f, 0.0) for f in names])
    for n, groups in sets.items():
        print(f"{n:12} fused  {recall_at(groups, base)}\n{n:12} fitted {recall_at(groups, w)}\n{n:12} current {recall_at(groups, cur)}")


CONFIGS = {  # name -> (model, Retriever kwargs)
    'BM25': ('mpnet', dict(method='bm25', reranker=None)),
    'dense all-MiniLM-L6-v2': ('minilm', dict(method='dense', reranker=None)),
    'dense all-mpnet-base-v2': ('mpnet', dict(method='dense', reranker=None)),
    'hybrid RRF (BM25 + mpnet)': ('mpnet', dict(reranker=None)),
    'hybrid + lexical rerank (mpnet)': ('mpnet', dict(reranker=LocalReranker())),
    'hybrid + local rerank with cross-encoder (mpnet)': ('mpnet', dict(reranker=CrossReranker())),  # not in the runtime
    'hybrid + local rerank with cross-encoder (MiniLM)': ('minilm', dict(reranker=CrossReranker())),
}


def table(args):
    "Recall table on dev_200 per configuration, page-scoped and open."
    rows = []
    for mode in args.modes:
        for name, (model, kw) in CONFIGS.items():
            if args.only and args.only not in name: continue
            filt = ('company', 'year') if mode == 'open+filter' else ()
            m = eval_retrieval(path_of('dev'), mode=mode.split('+')[0], retriever=retriever_for('dev', model, **kw), limit=args.limit, filter_by=filt)
            rows.append({'config': name, **m})
            print(f"{mode:5} {name:32} " + ' '.join(f"{k}={100 * v:.1f}" for k, v in m.items() if '@' in k) + f" mrr={m['mrr']:.3f}", flush=True)
    if args.json: Path(args.json).write_text(json.dumps(rows, indent=1))
    keys = ['recall@1', 'recall@3', 'recall@5', 'recall@10', 'all@3', 'all@5', 'facts@3', 'facts@5', 'mrr']
    print('\n| mode | retriever | ' + ' | '.join(k.replace('recall', 'R').replace('all', 'All').replace('facts', 'Facts') for k in keys) + ' |')
    print('|' + '---|' * (len(keys) + 2))
    for r in rows:
        print(f"| {r['mode']} | {r['config']} | " + ' | '.join(f"{r[k]:.3f}" if k == 'mrr' else f"{100 * r[k]:.1f}" for k in keys) + ' |')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('fit'); f.add_argument('--model', default='mpnet'); f.add_argument('--C', type=float, default=1.0)
    f.add_argument('--train', nargs='+', default=['train']); f.add_argument('--drop', nargs='*', default=[]); f.add_argument('--check', nargs='*', default=['conv'])
    f.add_argument('--cross', nargs='*', default=[], help='NAME=WEIGHTS: out-of-fold cross-encoder for file NAME')
    t = sub.add_parser('table'); t.add_argument('--modes', nargs='+', default=['page', 'open', 'open+filter']); t.add_argument('--limit', type=int)
    t.add_argument('--only'); t.add_argument('--json')
    a = ap.parse_args()
    {'fit': fit, 'table': table}[a.cmd](a)
