"""Retrieval levers tried for the local reranker and not kept; this reproduces their figures.

    python bench/retrieval_tried.py features  # four more lexical features, linear pairwise model, 5-fold CV
    python bench/retrieval_tried.py gbm       # a gradient-boosted tree over the current features instead of the linear model
    python bench/retrieval_tried.py intro     # three features from the sentence that introduces the table (FinQA pages)
    python bench/retrieval_tried.py clean     # fit on gold labels cleaned of sentences holding none of the program's numbers
    python bench/retrieval_tried.py llm [N]   # the local LLM picks the needed items among the top 10 (first N train questions)
    python bench/retrieval_tried.py gap       # dev_200 recall of rows and of sentences: ours against FinQA's stored scores
    python bench/retrieval_tried.py label     # three features from embedding a row's label alone (without its numbers)

The fitted ones fit on FinQA train_100 (mpnet and MiniLM collections) and, except `intro`, on the ConvFinQA pages
that are not dev_200 pages, exactly as `eval_retrieval_table.py fit` does, and report 5-fold cross-validated recall
there; `gbm`, `clean` and `label` also report dev_200 recall of the model fitted on all of it (dev is only measured,
never fitted on). `llm` and `gap` fit nothing: `llm` reorders the shipped reranker's top 10 on train_100 questions and
times each call; `gap` compares ranks on dev_200.
"""
from __future__ import annotations
import json, re, string, sys, time
from pathlib import Path
import numpy as np
import finrag.retrieve as R

sys.path.insert(0, str(Path(__file__).parent))
from eval_retrieval_table import candidates, fit_pairwise, load, path_of, recall_at, retriever_for  # noqa: E402

TRAIN = ['train:mpnet', 'train:minilm', 'conv:minilm']
NEW_FEATURES = ['year_in_range', 'after_match', 'intro', 'year_row']
_AFTER_Q = re.compile(r'\b(after|beyond|thereafter|later than)\b')
_INTRO = re.compile(r'(following table|as follows|table below|summarized below|are presented below|: \.$)')


def _label_year(c) -> int | None:
    "The year a row's label is (a maturity table's '2016' row), else None."
    t = c.label.strip().split()
    return int(t[0]) if c.kind == 'row' and t and R.is_year(t[0]) else None


def with_new_features(base=R.chunk_features):
    "`chunk_features` plus the four tried: a year row inside the question's span, 'after'/'thereafter', intro sentences, year rows."
    def features(q, c, ct):
        f, qy, ly = base(q, c, ct), sorted(int(y) for y in q.years), _label_year(c)
        f['year_in_range'] = float(ly is not None and len(qy) >= 2 and qy[0] < ly < qy[-1])
        f['after_match'] = float(c.kind == 'row' and bool(_AFTER_Q.search(' '.join(q.tokens))) and bool(re.search(r'thereafter|after', c.label.lower())))
        f['intro'] = float(c.kind == 'text' and bool(_INTRO.search(c.text.strip().lower())))
        f['year_row'] = float(ly is not None)
        return f
    return features


def train_sets() -> dict:
    "Per training collection: (features, gold labels, gold count) of each question, dev pages left out."
    dev_pages = set(load(path_of('dev')).pages)
    return {s: candidates(retriever_for(s.split(':')[0], s.split(':')[1], dev_pages, reranker=None), s.split(':')[0], dev_pages) for s in TRAIN}


def cv(sets: dict, fit, score, folds: int = 5) -> dict:
    "5-fold CV recall per collection; a question's fold is its index in its file, so both models of it share a fold."
    train = [(i % folds, g) for n in sets for i, g in enumerate(sets[n])]
    models = [fit([g for f2, g in train if f2 != f]) for f in range(folds)]
    return {n: {k: round(float(np.mean([score([g for i, g in enumerate(sets[n]) if i % folds == f], models[f])[k] for f in range(folds)])), 1)
                for k in ('R@1', 'R@3', 'R@5', 'All@3', 'All@5')} for n in sets}


def features_cmd():
    lin = lambda groups, w: recall_at(groups, w)
    print('current features', cv(train_sets(), lambda g: fit_pairwise(g, 0.1), lin))
    R.FEATURES.extend(NEW_FEATURES); R.chunk_features = with_new_features()
    print('+ four features ', cv(train_sets(), lambda g: fit_pairwise(g, 0.1), lin))


def _gbm_recall(groups, clf, ks=(1, 3, 5)) -> dict:
    rec, allk = {k: 0.0 for k in ks}, {k: 0 for k in ks}
    for X, y, n in groups:
        order = np.argsort(-clf.predict_proba(X)[:, 1], kind='stable')
        for k in ks:
            h = int(y[order[:k]].sum()); rec[k] += h / n; allk[k] += h >= n
    return {**{f"R@{k}": round(100 * rec[k] / len(groups), 1) for k in ks}, **{f"All@{k}": round(100 * allk[k] / len(groups), 1) for k in ks}}


def gbm_cmd():
    from sklearn.ensemble import HistGradientBoostingClassifier
    fit = lambda groups: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40).fit(
        np.vstack([g[0] for g in groups]), np.concatenate([g[1] for g in groups]))
    sets = train_sets()
    print('gbm 5-fold CV', cv(sets, fit, _gbm_recall))
    dev = candidates(retriever_for('dev', 'mpnet', reranker=None), 'dev')
    print('dev linear (shipped weights)', recall_at(dev, np.array([R.LEXICAL_WEIGHTS.get(f, 0.0) for f in R.FEATURES])))
    print('dev gbm (fitted on all training questions)', _gbm_recall(dev, fit([g for s in sets.values() for g in s])))


def _intro_sentences() -> dict:
    "FinQA page id -> (index, text) of the last pre_text sentence: the one just above the table."
    from finrag.data import parse_page_id
    out = {}
    for f in ('train', 'dev'):
        for rec in json.loads(path_of(f).read_text()):
            pre = rec['pre_text']
            out[parse_page_id(rec['filename'])[0]] = (len(pre) - 1, pre[-1] if pre else '')
    return out


def with_intro_features(intro: dict, base=R.chunk_features):
    "`chunk_features` plus: the question's words in the table's intro sentence (rows), that times label cover, is the intro."
    def features(q, c, ct):
        f, (i, text) = base(q, c, ct), intro.get(c.page_id, (None, ''))
        words = R.terms(text).words
        f['intro_cov'] = len(q.words & words) / len(q.words) if c.kind == 'row' and q.words else 0.0
        f['row_intro_label'] = f['intro_cov'] * f['label_cov']
        f['is_intro'] = float(c.kind == 'text' and c.ref == f'text_{i}')
        return f
    return features


def intro_cmd():
    sets = lambda: {s: v for s, v in train_sets().items() if s.startswith('train')}  # ConvFinQA pages lose the pre/post split
    lin = lambda groups, w: recall_at(groups, w)
    print('current features', cv(sets(), lambda g: fit_pairwise(g, 0.1), lin))
    R.FEATURES.extend(['intro_cov', 'row_intro_label', 'is_intro']); R.chunk_features = with_intro_features(_intro_sentences())
    print('+ intro features', cv(sets(), lambda g: fit_pairwise(g, 0.1), lin))


def _noisy(rt, name: str, exclude: set[str]) -> list[np.ndarray]:
    "Per question (in `candidates` order): which gold candidates are sentences holding none of the program's numbers."
    from cross_encoder import numbers_in
    out = []
    for q in R.eval_questions(load(path_of(name)).questions):
        if q.page_id in exclude: continue
        ev, want = rt.retrieve(R.question_query(q), page_id=q.page_id, k=1000, rerank=False), numbers_in(q.program or '')
        out.append(np.array([any(R._hits(g, e, q.page_id) for g in q.evidence) and e.chunk.kind == 'text' and bool(want)
                             and not want & numbers_in(e.chunk.text) for e in ev]))
    return out


def clean_cmd():
    dev_pages = set(load(path_of('dev')).pages)
    sets = {}
    for s in TRAIN:
        rt = retriever_for(s.split(':')[0], s.split(':')[1], dev_pages, reranker=None)
        sets[s] = [(X, y, n, m) for (X, y, n), m in zip(candidates(rt, s.split(':')[0], dev_pages), _noisy(rt, s.split(':')[0], dev_pages))]
    print('noisy share of gold facts:', {s: round(float(sum(g[3].sum() for g in v) / sum(g[1].sum() for g in v)), 3) for s, v in sets.items()})
    dev = candidates(retriever_for('dev', 'mpnet', reranker=None), 'dev')
    raw = lambda gs: [(X, y, n) for X, y, n, _ in gs]
    for label, clean in [('raw labels', raw), ('noisy gold dropped', lambda gs: [(X[~m], y[~m], n) for X, y, n, m in gs]),
                         ('noisy gold as negatives', lambda gs: [(X, np.where(m, 0.0, y), n) for X, y, n, m in gs])]:
        folds = [(i % 5, g) for v in sets.values() for i, g in enumerate(v)]
        cvs = [recall_at(raw([g for f2, g in folds if f2 == f]), fit_pairwise(clean([g for f2, g in folds if f2 != f]), 0.1)) for f in range(5)]
        w = fit_pairwise(clean([g for v in sets.values() for g in v]), 0.1)
        print(f"{label:24} CV (raw labels)", {k: round(float(np.mean([c[k] for c in cvs])), 1) for k in ('R@1', 'R@3', 'R@5', 'All@5')},
              '| dev', recall_at(dev, w), flush=True)


_PICK_SYSTEM = ("You choose the evidence a calculation needs. You get a question about a company's financial report and lettered "
                "items from the report: table rows (label | column: value) and sentences.\nReply with the letters of the items that "
                "hold the numbers needed to answer the question, the most important first. Most questions need one or two items, "
                "some need three or four. Prefer the row whose label and column match the question's wording and years.")


def llm_cmd(limit: int | None = None, pool: int = 10):
    from finrag.config import Settings
    from finrag.llm import LocalLLM
    letters = string.ascii_uppercase[:pool]
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string", "enum": list(letters)},
                                                         "minItems": 1, "maxItems": 4}}, "required": ["items"]}
    llm, rt = LocalLLM.from_settings(Settings(n_threads=2)), retriever_for('train', 'mpnet')
    base, picked_recs, secs = [], [], []
    for q in R.eval_questions(load(path_of('train')).questions)[:limit]:
        query, ev = R.question_query(q), rt.retrieve(R.question_query(q), page_id=q.page_id, k=pool)
        items = '\n'.join(f"{letters[i]}. {e.chunk.text}" for i, e in enumerate(ev))
        msgs = [dict(role='system', content=_PICK_SYSTEM),
                dict(role='user', content=f"Question: {query}\n\nItems:\n{items}\n\nQuestion: {query}\nWhich items hold the numbers needed?")]
        t0 = time.perf_counter(); out = llm.complete(msgs, schema=schema, max_tokens=40); secs.append(time.perf_counter() - t0)
        try: picked = list(dict.fromkeys(letters.index(x) for x in json.loads(out.text)['items']))
        except (ValueError, KeyError, TypeError): picked = []
        order = picked + [i for i in range(len(ev)) if i not in picked]
        base.append(R.score_ranking(q, ev, (1, 3, 5)))
        picked_recs.append(R.score_ranking(q, [R.Evidence(chunk=ev[i].chunk, rank=r + 1) for r, i in enumerate(order)], (1, 3, 5)))
    for label, recs in [('shipped reranker', base), ('LLM picks first', picked_recs)]:
        print(f"{label:17}", {k: round(100 * v, 1) for k, v in R.summarise(recs, (1, 3, 5)).items() if k.startswith(('recall', 'all'))})
    print(f"{len(secs)} questions; LLM call p50 {np.median(secs):.2f} s, p95 {np.percentile(secs, 95):.2f} s")


def _kind_recall(ranked: dict, ks=(3, 5, 10)) -> dict:
    "Pooled recall@k of gold rows and gold sentences; `ranked` maps (question index, gold id) to its rank (None: absent)."
    out = {}
    for kind in ('row', 'text'):
        ranks = [r for (_, g), r in ranked.items() if g.startswith('text') == (kind == 'text')]
        out[kind] = {'facts': len(ranks), **{f"@{k}": round(100 * sum(1 for r in ranks if r and r <= k) / len(ranks), 1) for k in ks}}
    return out


def with_label_similarity(model: str, base=None):
    "`feature_matrix` plus the question's cosine to each row's label alone: z-scored over all, over rows, and top-2 row."
    from finrag.config import Settings
    from finrag.ingest import make_embedder
    import eval_retrieval_table as E
    base, emb = base or E.feature_matrix, make_embedder(Settings(embed_model=E.MODELS[model]))
    def fm(question, chunks, dense, bm25, fused):
        rows = np.array([c.kind == 'row' for c in chunks])
        texts = [(f"{c.label} ({c.header[0]})" if c.header and c.header[0].strip() else c.label) if c.kind == 'row' else c.text for c in chunks]
        V = emb.embed([question] + texts); sim = V[1:] @ V[0]
        within, top = np.zeros(len(chunks)), np.zeros(len(chunks))
        if rows.sum() > 1: within[rows] = R._z(sim[rows])
        if rows.any(): top[np.argsort(-np.where(rows, sim, -9.0))[:2]] = 1.0; top *= rows
        return np.hstack([base(question, chunks, dense, bm25, fused), np.c_[R._z(sim), within, top]])
    return fm


def label_cmd():
    import eval_retrieval_table as E
    dev_pages, base, sets = set(load(path_of('dev')).pages), E.feature_matrix, {}
    for s in TRAIN:
        name, model = s.split(':')
        E.feature_matrix = with_label_similarity(model, base)
        sets[s] = candidates(retriever_for(name, model, dev_pages, reranker=None), name, dev_pages)
    E.feature_matrix = with_label_similarity('mpnet', base)
    dev = candidates(retriever_for('dev', 'mpnet', reranker=None), 'dev')
    n, lin = len(R.FEATURES), lambda groups, w: recall_at(groups, w)
    for label, cut in [('current features', lambda gs: [(X[:, :n], y, k) for X, y, k in gs]), ('+ label similarity', lambda gs: gs)]:
        ss = {k: cut(v) for k, v in sets.items()}
        print(f"{label:18} 5-fold CV", cv(ss, lambda g: fit_pairwise(g, 0.1), lin))
        print(f"{label:18} dev (fitted on all)", recall_at(cut(dev), fit_pairwise([g for v in ss.values() for g in v], 0.1)), flush=True)


def gap_cmd():
    recs, ours, finqa = json.loads(path_of('dev').read_text()), {}, {}
    for i, rec in enumerate(recs):  # FinQA's retriever scored every candidate; its scores ship in the file
        order = [r['ind'] for r in sorted(rec.get('table_retrieved_all', []) + rec.get('text_retrieved_all', []), key=lambda r: -r['score'])]
        finqa.update({(i, g): order.index(g) + 1 if g in order else None for g in rec['qa']['gold_inds']})
    rt = retriever_for('dev', 'mpnet')
    for i, q in enumerate(R.eval_questions(load(path_of('dev')).questions)):
        ev = rt.retrieve(R.question_query(q), page_id=q.page_id, k=100)
        ours.update({(i, g): next((e.rank for e in ev if R._hits(g, e, q.page_id)), None) for g in q.evidence})
    print('ours (hybrid + shipped local rerank)', _kind_recall(ours))
    print("FinQA's fine-tuned retriever        ", _kind_recall(finqa))


if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else 'features'
    if cmd == 'llm': llm_cmd(int(sys.argv[2]) if len(sys.argv) > 2 else None)
    else: {'features': features_cmd, 'gbm': gbm_cmd, 'intro': intro_cmd, 'clean': clean_cmd, 'gap': gap_cmd, 'label': label_cmd}[cmd]()
