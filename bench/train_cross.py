"""Train the local cross-encoder's LoRA deltas (finrag.cross) on training data only; dev_200 is never read for training.

    python bench/train_cross.py --sets train conv tat --out finrag/assets/cross-minilm-lora.safetensors   # the shipped weights
    python bench/train_cross.py --sets conv tat --val train --out /tmp/cross_no_train.safetensors      # held-out check

`train` is FinQA train_100, `conv` the ConvFinQA conversations whose pages are not dev_200 pages, `tat` TAT-QA dev
(a seeded sample of --tat questions). About 0.7 s per question per epoch on 2 cores.
"""
from __future__ import annotations
import argparse, time
from pathlib import Path
import numpy as np, torch
from finrag.config import Settings
from finrag.cross import CrossEncoder, save_delta, train_cross, training_groups
from finrag.data import load

FILES = {'train': 'finqa/train_100.json', 'dev': 'finqa/dev_200.json', 'conv': 'convfinqa/convfinqa_dev_part1.json',
         'tat': 'tatqa/tatqa_dataset_dev.json'}


def path_of(name: str) -> Path: return Path(Settings().data_dir) / FILES[name]


def recall(groups, scores, ks=(1, 3, 5)) -> dict:
    "recall@k and all@k of ranking each group by its scores (gold = labels)."
    out = {}
    for k in ks:
        hits = [(g.labels[np.argsort(-s, kind='stable')[:k]].sum(), g.labels.sum()) for g, s in zip(groups, scores)]
        out[f"R@{k}"] = round(100 * float(np.mean([h / n for h, n in hits])), 1)
        out[f"All@{k}"] = round(100 * float(np.mean([h >= n for h, n in hits])), 1)
    return out


def main(a):
    torch.set_num_threads(a.threads)
    dev_pages = set(load(path_of('dev')).pages)
    groups = [g for n in a.sets for g in training_groups(load(path_of(n)), dev_pages, limit=a.tat if n == 'tat' else None, seed=a.seed)]
    print(f"training on {len(groups)} questions from {', '.join(a.sets)}", flush=True)
    t0 = time.time()
    model = train_cross(groups, epochs=a.epochs, lr=a.lr, negatives=a.negatives, rank=a.rank, seed=a.seed)
    print(f"trained in {time.time() - t0:.0f} s", flush=True)
    save_delta(model, Path(a.out), meta=dict(sets=' '.join(a.sets), tat=a.tat, epochs=a.epochs, lr=a.lr, negatives=a.negatives, seed=a.seed))
    ce = CrossEncoder(model=model)
    for n in a.val:
        gs = training_groups(load(path_of(n)), dev_pages)
        print(f"held out {n}: {recall(gs, [ce.score(g.query, g.texts) for g in gs])}", flush=True)
    print('saved', a.out)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sets', nargs='+', default=['train', 'conv', 'tat']); ap.add_argument('--val', nargs='*', default=[])
    ap.add_argument('--out', required=True); ap.add_argument('--tat', type=int, default=600)
    ap.add_argument('--epochs', type=int, default=2); ap.add_argument('--lr', type=float, default=5e-4)
    ap.add_argument('--negatives', type=int, default=15); ap.add_argument('--rank', type=int, default=8)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--threads', type=int, default=2)
    main(ap.parse_args())
