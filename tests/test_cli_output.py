"The real `finrag` command in a subprocess: exit codes that tell the truth, and stdout that carries only the result."
import json, os, re, subprocess, sys
from pathlib import Path
import pytest
from finrag.config import Settings, repo_root
from finrag.data import load

pytestmark = pytest.mark.e2e
DEMO = repo_root()/'demo'/'northwind_2024.json'
# what libraries print while loading: tqdm bars ("Loading weights: 100%|###| 199/199 [...it/s]"), llama.cpp / ggml logs
NOISE = re.compile(r'Loading weights|\d+%\|| \d+/\d+ \[|it/s\]|s/it\]|^llama_|^ggml_|^load_tensors|^print_info|Batches:', re.M)

def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, 'FINRAG_HOME': str(home), 'HF_HUB_OFFLINE': '1', 'FINRAG_LLM_CACHE': 'off'}
    return subprocess.run([str(Path(sys.executable).parent/'finrag'), *args], capture_output=True, text=True, env=env, timeout=900)

@pytest.fixture(scope='module')
def ingested(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    "A fresh FINRAG_HOME (models linked from the dev home if there) after `finrag ingest` of the demo file and a malformed one."
    home = tmp_path_factory.mktemp('finrag-home')
    dev_models = Path(os.environ.get('FINRAG_HOME', repo_root()/'.finrag'))/'models'
    if dev_models.is_dir(): (home/'models').symlink_to(dev_models)
    bad = home/'broken.json'
    bad.write_text(json.dumps(json.loads(DEMO.read_text())[:1])[:-40])  # a truncated FinQA file
    return home, bad, _cli(home, 'ingest', str(DEMO), str(bad))

def test_ingest_with_a_bad_file_fails_but_ingests_the_good_one(ingested):
    home, bad, r = ingested
    assert r.returncode == 1, (r.stdout, r.stderr[-2000:])
    out = r.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith('ingested 1 file (5 pages: 5 added, 0 updated, 0 unchanged;'), r.stdout
    assert out[0].endswith('; 1 file failed') and re.search(r'; \d+ chunks written\) in ', out[0]), r.stdout
    assert re.search(rf'^error: {re.escape(str(bad))}: invalid JSON at line 1, column \d+', r.stderr, re.M), r.stderr[-2000:]
    from finrag.ingest import Index
    ix = Index(Settings(home=home))
    assert set(ix.pages()) == set(load(DEMO).pages) and ix.count() > 40

def test_ingest_of_good_files_exits_zero(ingested):
    home, _, _ = ingested
    r = _cli(home, 'ingest', str(DEMO))  # nothing new: every page unchanged
    assert r.returncode == 0 and r.stdout.startswith('ingested 1 file (5 pages: 0 added, 0 updated, 5 unchanged; 0 chunks'), r.stdout

def test_stdout_carries_only_results(ingested):
    "The embedding model's load bars and every other library message go to stderr; stdout has the result alone."
    home, _, ing = ingested
    assert 'Loading weights' in ing.stderr  # the noise is there, on stderr ...
    assert not NOISE.search(ing.stdout), ing.stdout  # ... not on stdout
    r = _cli(home, 'search', 'net revenue 2024', '--page', 'NWI/2024/page_12.pdf', '--k', '3')
    assert r.returncode == 0 and 'net revenue' in r.stdout.lower(), r.stderr[-2000:]
    assert not NOISE.search(r.stdout), r.stdout
    assert r.stdout.lstrip().startswith('search: net revenue 2024'), r.stdout[:300]
