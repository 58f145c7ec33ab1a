"""API fuzzing at scale: schemathesis against the real server's `/docs.json`, authenticated as admin, every endpoint.

    python bench/bench_api_fuzz.py [--max-examples 300] [--seed 1] [--workers 2]

Starts `bentoml serve` in a scratch FINRAG_HOME (the real embedding model, the recorded LLM answers of the service
tests), ingests the demo corpus, and runs schemathesis with two checks on every response: no 5xx
(`not_a_server_error`) and no leak (`no_leak`: a stack trace, a server path, an exception name or any key's secret;
tests/security/leaks.py). Prints the cases by status and the failures, and exits 1 on any failure. The CI runs a
small slice of the same in tests/test_service.py.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import httpx

ROOT = Path(__file__).resolve().parent.parent
SECURITY = ROOT/'tests'/'security'
FIXTURES = ROOT/'tests'/'fixtures'


def prepare(home: Path) -> dict[str, str]:
    "A scratch home with the models linked, the recorded caches copied and a key per role; the keys."
    from finrag.auth import KeyStore
    models = Path(os.environ.get('FINRAG_HOME', ROOT/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    (home/'cache').mkdir()
    shutil.copy(FIXTURES/'service_embeddings.sqlite', home/'cache'/'embeddings.sqlite')
    shutil.copy(FIXTURES/'service_llm_cache.sqlite', home/'llm_replay.sqlite')
    ks = KeyStore(home/'keys.sqlite')
    return {r: ks.create(r, f'fuzz-{r}', rate_per_min=1_000_000).secret for r in ('reader', 'ingester', 'admin')}


def server_env(home: Path) -> dict[str, str]:
    return {'FINRAG_HOME': str(home), 'FINRAG_LLM_CACHE': 'replay', 'FINRAG_LLM_CACHE_PATH': str(home/'llm_replay.sqlite'),
            'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', 'FINRAG_DATABASE_URL': '', 'FINRAG_AGENT_MODE': 'named',
            'FINRAG_EVIDENCE_K': '4', 'FINRAG_MAX_FILE_MB': '1'}


def ingest_demo(url: str, key: str) -> None:
    demo = json.loads((ROOT/'demo'/'northwind_2024.json').read_text())
    h = {'Authorization': f"Bearer {key}"}
    job = httpx.post(f"{url}/ingest", json=demo, headers=h, timeout=120).json()
    t0 = time.time()
    while httpx.get(url + job['status_url'], headers=h, timeout=60).json()['status'] in ('queued', 'running'):
        if time.time() - t0 > 600: raise SystemExit('the demo ingest did not finish')
        time.sleep(0.5)


def fuzz(url: str, keys: dict[str, str], work: Path, max_examples: int, seed: int, workers: int, max_time: int = 0) -> tuple[int, str, dict]:
    "Run schemathesis; (exit code, its output's tail, responses by status)."
    counts = work/'counts.json'
    env = {**os.environ, 'SCHEMATHESIS_HOOKS': 'st_hooks', 'PYTHONPATH': str(SECURITY), 'FINRAG_FUZZ_COUNTS': str(counts),
           'FINRAG_FUZZ_SECRETS': ','.join(k.split('_', 2)[2] for k in keys.values())}
    cmd = [str(Path(sys.executable).parent/'schemathesis'), 'run', f"{url}/docs.json", '--url', url,
           '--checks', 'not_a_server_error,no_leak', '--max-examples', str(max_examples), '--seed', str(seed),
           '--header', f"Authorization: Bearer {keys['admin']}", '--exclude-path', '/metrics', '--workers', str(workers),
           '--request-timeout', '120'] + (['--max-time', str(max_time)] if max_time else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work)
    return r.returncode, (r.stdout + r.stderr)[-6000:], json.loads(counts.read_text()) if counts.exists() else {}


def main() -> int:
    from finrag.api import local_server
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--max-examples', type=int, default=300); ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, t0 = Path(tmp), time.perf_counter()
        keys = prepare(home)
        with local_server(server_env(home), log_path=home/'server.log', timeout=300) as url:
            ingest_demo(url, keys['ingester'])
            code, tail, counts = fuzz(url, keys, home, a.max_examples, a.seed, a.workers)
        log = (home/'server.log').read_text(errors='replace')
        leaked = [k for k in keys.values() if k.split('_', 2)[2] in log]
        five = sum(n for s, n in counts.items() if s.startswith('5'))
        print(tail)
        print(json.dumps(dict(cases=sum(counts.values()), by_status=dict(sorted(counts.items())), server_errors=five,
                              schemathesis_exit=code, keys_in_server_log=len(leaked), seconds=round(time.perf_counter() - t0)), indent=1))
    return 1 if code or five or leaked else 0


if __name__ == '__main__':
    sys.exit(main())
