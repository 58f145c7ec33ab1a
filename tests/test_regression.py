"""Regression gate: pinned FinQA dev questions replayed against recorded model answers, held to a stored baseline.

Runs in seconds plus the embedding of the pinned pages, with no network and no language model: every model call is
answered from `tests/regression/llm_cache.sqlite` (replay mode; a miss is an error, never a model call). Fails if
execution accuracy drops below `baseline.json` or any stage fails more often. Re-record after a deliberate change with
`python tests/regression/record.py`.
"""
import json, os, shutil
from pathlib import Path
import pytest
from finrag.config import Settings, repo_root
from finrag.eval import read_meta, read_results, run_eval
from finrag.report import format_summary, regression_problems, summarize

REG = Path(__file__).parent/'regression'

@pytest.fixture
def replay_settings(tmp_path) -> Settings:
    "A temporary FINRAG_HOME (sharing the assembled models) and a copy of the recorded answers, in replay mode."
    home = tmp_path/'home'; home.mkdir()
    models = Path(os.environ.get('FINRAG_HOME', repo_root()/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    cache = tmp_path/'llm.sqlite'
    shutil.copyfile(REG/'llm_cache.sqlite', cache)  # the committed file is never opened for writing
    return Settings(home=home, llm_cache='replay', llm_cache_path=cache, wandb_mode='disabled')

def test_pinned_questions_file():
    spec = json.loads((REG/'questions.json').read_text())
    assert spec['dataset'] == 'finqa/dev_200.json' and 10 <= len(spec['ids']) <= 20 and len(set(spec['ids'])) == len(spec['ids'])

def test_regression_gate(shared_data, replay_settings, tmp_path):
    spec, baseline = json.loads((REG/'questions.json').read_text()), json.loads((REG/'baseline.json').read_text())
    run_dir = run_eval(shared_data/spec['dataset'], out_dir=tmp_path/'runs', question_ids=spec['ids'], settings=replay_settings, progress=False)
    recs = read_results(run_dir)
    summary = summarize(recs, read_meta(run_dir))
    assert len(recs) == len(spec['ids']) == baseline['questions']
    problems = regression_problems(summary, baseline, recs)
    assert not problems, '\n'.join(problems) + '\n\n' + format_summary(summary)
    assert summary['metrics']['cached_call_share'] == 1.0  # every model answer was replayed
