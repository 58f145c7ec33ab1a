"""Record the regression gate's model answers and baseline with the real local model (a few minutes on a CPU).

    python tests/regression/record.py --fresh        # re-record answers + baseline for the pinned questions
    python tests/regression/record.py               # the same, reusing answers already in the file (resume)
    python tests/regression/record.py --pick 12 7   # first pin 12 FinQA dev_200 questions sampled with seed 7

Run it after a deliberate change to the prompts, the agent or retrieval (the recorded answers are keyed by the exact
messages sent, so such a change makes them miss), and commit `llm_cache.sqlite` and `baseline.json` with the change.
Needs the benchmark data (FINRAG_DATA_DIR or ../shared/data) and the assembled models (FINRAG_HOME or .finrag).
"""
import json, os, sqlite3, sys, tempfile, time
from contextlib import closing
from pathlib import Path
from finrag.config import Settings, repo_root
from finrag.data import load
from finrag.eval import read_meta, read_results, run_eval, select_questions
from finrag.report import format_summary, make_baseline, summarize

REG = Path(__file__).resolve().parent
DATASET = 'finqa/dev_200.json'

def pick(n: int, seed: int) -> None:
    "Pin n seeded-sample question ids of FinQA dev_200 in questions.json."
    qs = select_questions(load(Settings().data_dir/DATASET), limit=n, sample_seed=seed)
    (REG/'questions.json').write_text(json.dumps(dict(dataset=DATASET, sample_seed=seed, n=n, ids=[q.id for q in qs]), indent=2) + '\n')

def temp_home() -> Path:
    "A fresh FINRAG_HOME sharing the assembled models of the developer's home."
    home = Path(tempfile.mkdtemp(prefix='finrag-regression-'))
    models = Path(os.environ.get('FINRAG_HOME', repo_root()/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    return home

def compact(db: Path) -> None:
    "Fold the WAL into the file and switch it to a rollback journal, so the committed file stands alone."
    with closing(sqlite3.connect(db)) as con:
        con.execute('PRAGMA wal_checkpoint(TRUNCATE)'); con.execute('PRAGMA journal_mode=DELETE'); con.execute('VACUUM')

def record(fresh: bool = True) -> dict:
    "Answer the pinned questions with the real model into llm_cache.sqlite (emptied first if `fresh`); write baseline.json."
    spec = json.loads((REG/'questions.json').read_text())
    db = REG/'llm_cache.sqlite'
    if fresh:
        for f in (db, db.with_name(db.name + '-wal'), db.with_name(db.name + '-shm')): f.unlink(missing_ok=True)
    home = temp_home()
    s = Settings(home=home, llm_cache='readwrite', llm_cache_path=db, wandb_mode='disabled')
    t0 = time.time()
    run_dir = run_eval(s.data_dir/spec['dataset'], out_dir=home/'runs', question_ids=spec['ids'], settings=s)
    compact(db)
    summary = summarize(read_results(run_dir), read_meta(run_dir))
    base = dict(make_baseline(summary), recorded=time.strftime('%Y-%m-%d'), seconds=round(time.time() - t0))
    (REG/'baseline.json').write_text(json.dumps(base, indent=2) + '\n')
    print(format_summary(summary))
    return base

if __name__ == '__main__':
    if len(sys.argv) == 4 and sys.argv[1] == '--pick': pick(int(sys.argv[2]), int(sys.argv[3]))
    record(fresh='--pick' in sys.argv or '--fresh' in sys.argv)
