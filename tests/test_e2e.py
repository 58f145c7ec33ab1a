"End-to-end with the real local models: ingest the demo corpus, answer through the library and through the CLI."
import json, os, subprocess, sys
from pathlib import Path
import pytest
from finrag.config import Settings, repo_root
from finrag.data import load
from finrag.sandbox import finqa_match

pytestmark = pytest.mark.e2e
DEMO = repo_root()/'demo'/'northwind_2024.json'

@pytest.fixture(scope='module')
def home(tmp_path_factory) -> Path:
    "A fresh FINRAG_HOME with the demo corpus ingested through the CLI; models linked from the dev home if there."
    home = tmp_path_factory.mktemp('finrag-home')
    dev_models = Path(os.environ.get('FINRAG_HOME', repo_root()/'.finrag'))/'models'
    if dev_models.is_dir(): (home/'models').symlink_to(dev_models)
    r = _cli(home, 'ingest', str(DEMO))
    assert r.returncode == 0, r.stderr
    return home

def _cli(home: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'FINRAG_HOME': str(home), 'HF_HUB_OFFLINE': '1', 'FINRAG_LLM_CACHE': 'off', **extra_env}
    return subprocess.run([str(Path(sys.executable).parent/'finrag'), *args], capture_output=True, text=True, env=env, timeout=900)

def test_ingest_is_idempotent(home):
    from finrag.ingest import Index
    idx = Index(Settings(home=home))
    n = idx.count()
    assert n > 40 and set(idx.pages()) == set(load(DEMO).pages)
    r = _cli(home, 'ingest', str(DEMO))
    assert r.returncode == 0 and Index(Settings(home=home)).count() == n

def test_search_finds_the_revenue_row(home):
    r = _cli(home, 'search', 'net revenue 2024', '--page', 'NWI/2024/page_12.pdf', '--k', '3')
    assert r.returncode == 0 and 'net revenue' in r.stdout.lower()

def test_ask_demo_question_through_the_cli(home):
    q = load(DEMO).questions[0]
    r = _cli(home, 'ask', q.text, '--page', q.page_id, '--json')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ans = json.loads(r.stdout)
    assert ans['failed_stage'] is None and finqa_match(ans['value'], q.answer), ans
    assert all(v['grounded'] and v['ref'].startswith('table_') for v in ans['values'])
    assert (ans['unit'], ans['display']) == ('percent', '13.07%'), ans
    stages = {s['stage']: s for s in ans['trace']}
    assert set(stages) == {'retrieval', 'specify', 'extract', 'evaluate'}
    assert stages['specify']['prompt_tokens'] > 0 and stages['specify']['prompt'].startswith('named@v')

def test_ask_prints_answer_expression_and_sources(home):
    q = load(DEMO).questions[0]
    r = _cli(home, 'ask', q.text, '--page', q.page_id)
    assert 'Answer: 13.07%' in r.stdout and 'Expression:' in r.stdout and 'column "2024"' in r.stdout, r.stdout
    assert '= $1,482.30 million  from' in r.stdout and '= $1,310.90 million  from' in r.stdout, r.stdout  # amounts with their scale

def test_bad_questions_get_clear_errors(home):
    r = _cli(home, 'ask', '   ')
    assert r.returncode == 1 and 'the input stage failed: the question is empty' in r.stdout
    r = _cli(home, 'ask', 'what was revenue?', '--page', 'NOPE/2024/page_1.pdf')
    assert r.returncode == 1 and 'retrieval stage failed' in r.stdout
