"""Two retrieval levers tried for the local reranker and not kept; this reproduces their figures.

    python bench/retrieval_tried.py features  # four more lexical features, linear pairwise model, 5-fold CV
    python bench/retrieval_tried.py gbm       # a gradient-boosted tree over the current features instead of the linear model

Both fit on FinQA train_100 (mpnet and MiniLM collections) and on the ConvFinQA pages that are not dev_200 pages,
exactly as `eval_retrieval_table.py fit` does, and report 5-fold cross-validated recall there; `gbm` also reports
dev_200 recall of the model fitted on all of it (dev is only measured, never fitted on).
"""
from __future__ import annotations
import re, sys
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


if __name__ == '__main__':
    {'features': features_cmd, 'gbm': gbm_cmd}[sys.argv[1] if len(sys.argv) > 1 else 'features']()
