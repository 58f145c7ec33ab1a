"""A scripted agent and a toy dataset for tests of `finrag.eval`, usable as a module or as a script.

    python tests/eval_fake_agent.py DATASET OUT_DIR ASKED_LOG [DELAY_S]
    python tests/eval_fake_agent.py report DATASET EVAL_RUNS_DIR

The first form 
runs `finrag.eval.run_eval` on DATASET with an agent whose retriever serves each page's rows and sentences (after
sleeping DELAY_S, so a test can kill the process mid-run) and whose model is a `FakeLLM` that answers `a - b` over the
first table row's two year columns. Every question the agent is asked is appended to ASKED_LOG before it is answered.
The second runs `finrag.report.run_papermill` (evaluation, offline W&B run, executed report) with the same agent, with
settings from the environment (FINRAG_HOME, WANDB_MODE).
"""
import json, sys, time
from pathlib import Path
from types import SimpleNamespace as NS

from finrag.agent import Agent
from finrag.config import Settings
from finrag.data import Dataset, load
from finrag.llm import FakeLLM


def toy_records(n: int = 8) -> list[dict]:
    "n FinQA-style records; the gold is the change in revenue for even i, the sum for odd i (so half are right)."
    recs = []
    for i in range(n):
        a, b = 100 + 10 * i, 90 + 3 * i
        recs.append({'id': f"ACME/2020/page_{i}.pdf-1", 'filename': f"ACME/2020/page_{i}.pdf",
                     'pre_text': [f"revenue was ${a} million in 2020 ."], 'post_text': ['all figures in millions .'],
                     'table': [['', '2020', '2019'], ['revenue', f"$ {a}", f"$ {b}"], ['costs', '50', '40']],
                     'qa': {'question': f"what was the change in revenue from 2019 to 2020 (q{i})?", 'program': f"subtract({a}, {b})",
                            'exe_ans': float(a - b) if i % 2 == 0 else float(a + b), 'gold_inds': {'table_1': '...'}}})
    return recs


def write_toy(path: Path, n: int = 8) -> Path:
    "Write `toy_records(n)` as a FinQA JSON file."
    path.write_text(json.dumps(toy_records(n)))
    return path


class PageRetriever:
    "Serves a page's rows and sentences as evidence, after `delay` seconds; logs each question to `log`."
    def __init__(self, pages: dict, delay: float = 0.0, log: Path | None = None):
        self.pages, self.delay, self.log = pages, delay, log

    def retrieve(self, question, page_id=None, company=None, year=None, k=10):
        if self.log:
            with open(self.log, 'a') as f: f.write(question + '\n'); f.flush()
        time.sleep(self.delay)
        p = self.pages[page_id] if page_id else next(iter(self.pages.values()))
        t = p.tables[0]
        rows = [NS(chunk=NS(id=f"{p.id}#r{j}", kind='row', ref=f"table_{j}", text=' '.join(r), header=t.header, cells=r))
                for j, r in enumerate(t.rows, 1)]
        sents = [NS(chunk=NS(id=f"{p.id}#s{i}", kind='text', ref=f"text_{i}", text=s, header=None, cells=None))
                 for i, s in enumerate(p.texts)]
        return (rows + sents)[:k]


def scripted(messages, schema):
    "A cited answer a - b: the first row's 2020 and 2019 columns."
    return json.dumps({'expression': 'a - b', 'kind': 'number', 'variables': [
        {'name': 'a', 'source': 'R1', 'column': '2020', 'value': '0'}, {'name': 'b', 'source': 'R1', 'column': '2019', 'value': '0'}]})


def fake_agent(ds: Dataset, delay: float = 0.0, log: Path | None = None) -> Agent:
    "The real `Agent` with the page retriever and the scripted model."
    return Agent(Settings(agent_mode='one_call'), retriever=PageRetriever(ds.pages, delay, log), llm=FakeLLM(scripted, model='scripted'))


if __name__ == '__main__':
    from finrag.eval import run_eval
    from finrag.report import run_papermill
    if sys.argv[1] == 'report':
        data, out = map(Path, sys.argv[2:4])
        print(run_papermill(data, out_dir=out, agent=fake_agent(load(data)), progress=False))
        sys.exit(0)
    data, out, log = map(Path, sys.argv[1:4])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    print(run_eval(data, out_dir=out, agent=fake_agent(load(data), delay, log), progress=False))
