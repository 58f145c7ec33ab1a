"""Replay an evaluation run's recorded model outputs through the current agent code: what the code alone changes.

    python bench/replay_run.py RUN.jsonl DATASET [--conventions plain|finqa] [--diff]

No model and no index: each question gets the evidence its run showed (the same chunks, rebuilt from the dataset's
page by their refs) and the model's recorded outputs, in order, per prompt. A stage that called the model twice kept
only its last output, so such a question is replayed with that output alone (an approximation; counted below).
Prints accuracy by FinQA's rule and the questions whose answer changed against the run.
"""
import argparse, json
from collections import defaultdict
from types import SimpleNamespace as NS

from finrag.agent import Agent
from finrag.config import Settings
from finrag.data import load
from finrag.eval import eval_question
from finrag.ingest import chunk_page
from finrag.llm import FakeLLM


def outputs_by_prompt(rec: dict) -> dict[str, list[str]]:
    "The recorded model outputs of a record, in order, by prompt id (named, inline, answer)."
    out = defaultdict(list)
    for s in rec['trace']:
        if s.get('calls') and s.get('output') is not None: out[s['prompt'].split('@')[0]].append(s['output'])
    return out


class Replay:
    "A scripted model: each prompt's recorded outputs in order, the last repeated once they run out."
    def __init__(self): self.queues, self.used = {}, defaultdict(int)
    def load(self, rec): self.queues, self.used = outputs_by_prompt(rec), defaultdict(int)
    def __call__(self, messages, schema):
        props = set((schema or {}).get('properties', {}))
        pid = 'named' if 'values' in props else 'answer' if 'variables' in props else 'inline'
        q = self.queues.get(pid) or ['{}']
        i = min(self.used[pid], len(q) - 1); self.used[pid] += 1
        return q[i]


class RecordedEvidence:
    "The chunks a record showed, rebuilt from its page by ref, in the order it showed them."
    def __init__(self, pages): self.pages, self.rec = pages, None
    def retrieve(self, question, page_id=None, **kw):
        chunks = {c.ref: c for c in chunk_page(self.pages[self.rec['page_id']])}
        return [NS(chunk=chunks[e['ref']]) for e in self.rec['evidence'] if e['ref'] in chunks]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run'); ap.add_argument('dataset')
    ap.add_argument('--conventions', default='finqa', choices=['plain', 'finqa'])
    ap.add_argument('--diff', action='store_true', help='print each changed answer')
    a = ap.parse_args()
    ds, recs = load(a.dataset), [json.loads(l) for l in open(a.run)]
    qs = {q.id: q for q in ds.questions}
    model, evidence = Replay(), RecordedEvidence(ds.pages)
    agent = Agent(Settings(_env_file=None, conventions=a.conventions, evidence_k=8, llm_cache='off'), retriever=evidence,
                  llm=FakeLLM(model, model='replay'))
    right = approx = changed = more = 0
    for rec in recs:
        model.load(rec); evidence.rec = rec
        approx += any(s.get('calls', 0) > 1 for s in rec['trace'])
        new = eval_question(agent, qs[rec['id']], ds.pages.get(rec['page_id']))
        right += bool(new['correct'])
        if (new.get('llm_calls') or 0) > (rec.get('llm_calls') or 0):
            more += 1
            if a.diff: print(f"  {rec['id']}: {new['llm_calls']} model calls, the run {rec['llm_calls']} (a new send-back, replayed with the same output)")
        if bool(new['correct']) != bool(rec['correct']) or new['prediction'] != rec['prediction']:
            changed += 1
            if a.diff: print(f"{'+' if new['correct'] else '-' if rec['correct'] else ' '} {rec['id']}: {rec['question']}\n"
                             f"    was {rec['display']} ({rec['expression']}), now {new['display']} ({new['expression']}) gold {rec['gold']}")
    was = sum(bool(r['correct']) for r in recs)
    print(f"{a.conventions}: {right}/{len(recs)} = {right / len(recs):.1%} by FinQA's rule (the run: {was}/{len(recs)} = {was / len(recs):.1%}); "
          f"{changed} answers changed; {approx} questions replayed with a stage's last output only; "
          f"{more} would call the model more often (new send-backs: their new answers need a fresh run)")


if __name__ == '__main__':
    main()
