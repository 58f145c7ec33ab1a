"""Load test of the FinRAG HTTP service over loopback: throughput and p50/p95 latency of POST /ask at 1, 4 and 16
concurrent clients, with the LLM response cache warm (every answer replayed: the pipeline's own overhead, i.e.
auth, rate limit, retrieval, grounding, audit) and cold (real generation by the local model, one question at a
time per worker; excess clients get the deliberate 503 + Retry-After of the bounded model queue).

Each phase starts its own `bentoml serve` on a free 127.0.0.1 port with a scratch FINRAG_HOME, ingests the demo
corpus through the API, and is bounded in requests and seconds. Any status other than 200, or a deliberate
429/503, counts as an error and makes the script exit 1.

    python bench/bench_service.py                          # warm and cold; JSON to bench/results/service.json
    python bench/bench_service.py --phase warm --warm-requests 200
    python bench/bench_service.py --record tests/fixtures  # re-record the server tests' LLM answers and embeddings
"""
from __future__ import annotations
import argparse, asyncio, json, os, shutil, sqlite3, statistics, sys, tempfile, time
from pathlib import Path
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from finrag.api import local_server  # noqa: E402
from finrag.auth import KeyStore  # noqa: E402

DEMO = ROOT/'demo'/'northwind_2024.json'
FIXTURES = ROOT/'tests'/'fixtures'
DELIBERATE = {429, 503}
FIXTURE_ENV = {'FINRAG_AGENT_MODE': 'named', 'FINRAG_EVIDENCE_K': '4'}  # what the recorded answers (tests/fixtures) were asked with: the defaults, pinned so a later default change fails loudly instead of replaying stale answers


def scratch_home() -> Path:
    "A FINRAG_HOME with the dev home's models linked in and the demo's embeddings cached (when there)."
    home = Path(tempfile.mkdtemp(prefix='finrag-bench-'))
    models = Path(os.environ.get('FINRAG_HOME', ROOT/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    if (FIXTURES/'service_embeddings.sqlite').is_file():
        (home/'cache').mkdir()
        shutil.copy(FIXTURES/'service_embeddings.sqlite', home/'cache'/'embeddings.sqlite')
    return home


def ingest_demo(url: str, key: str):
    "POST the demo corpus and wait for its job."
    with httpx.Client(base_url=url, headers={'X-API-Key': key}, timeout=120) as c:
        r = c.post('/ingest', json=json.loads(DEMO.read_text()))
        r.raise_for_status()
        while (job := c.get(r.json()['status_url']).json())['status'] in ('queued', 'running'): time.sleep(0.3)
        assert job['status'] == 'done', job


def questions() -> list[dict]:
    "The demo questions as /ask bodies, the first (page 12, the recorded one) first."
    return [{'question': d['qa']['question'], 'page_id': d['filename']} for d in json.loads(DEMO.read_text())]


async def run_level(url: str, key: str, bodies: list[dict], clients: int, requests: int, max_s: float, timeout: float) -> dict:
    "`requests` asks from `clients` concurrent clients (stopping after `max_s`); latencies and statuses."
    lat, statuses, answered, next_i, t0 = [], {}, 0, 0, time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers={'X-API-Key': key}, timeout=timeout,
                                 limits=httpx.Limits(max_connections=clients)) as c:
        async def client():
            nonlocal next_i, answered
            while next_i < requests and time.perf_counter() - t0 < max_s:
                i, next_i = next_i, next_i + 1
                s = time.perf_counter()
                try:
                    r = await c.post('/ask', json=bodies[i % len(bodies)])
                    code = r.status_code
                    answered += code == 200 and r.json()['failed_stage'] is None
                except httpx.HTTPError as e: code = type(e).__name__
                statuses[code] = statuses.get(code, 0) + 1
                if code == 200: lat.append(time.perf_counter() - s)
        await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else lat * 19
    return dict(clients=clients, requests=sum(statuses.values()), ok=len(lat), answered=answered, statuses={str(k): v for k, v in statuses.items()},
                wall_s=round(wall, 2), throughput_rps=round(len(lat) / wall, 3) if wall else 0.0,
                p50_s=round(statistics.median(lat), 4) if lat else None, p95_s=round(q[18], 4) if lat else None)


def phase(name: str, env: dict, bodies: list[dict], plan: list[tuple[int, int]], max_s: float, timeout: float) -> list[dict]:
    "Start a server with `env`, ingest the demo, and run each (clients, requests) level of `plan`."
    home = scratch_home()
    keys = KeyStore(home/'keys.sqlite')
    key = keys.create('admin', f'bench-{name}', rate_per_min=10_000_000).secret
    log = home/'server.log'
    t0 = time.perf_counter()
    with local_server({'FINRAG_HOME': str(home), 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', **env},
                      log_path=log, timeout=600) as url:
        print(f"[{name}] server ready in {time.perf_counter() - t0:.1f}s at {url}", flush=True)
        ingest_demo(url, key)
        asyncio.run(run_level(url, key, bodies[:1], 1, 1, max_s, timeout))  # first request: lazy index/agent set-up
        out = []
        for clients, requests in plan:
            r = asyncio.run(run_level(url, key, bodies, clients, requests, max_s, timeout))
            out.append({'phase': name, **r})
            print(f"[{name}] {clients:>2} clients: {r['ok']}/{r['requests']} ok ({r['answered']} answered)  {r['throughput_rps']:.2f} req/s  "
                  f"p50 {r['p50_s']}s  p95 {r['p95_s']}s  statuses {r['statuses']}", flush=True)
    if all(set(r['statuses']) <= {'200', '429', '503'} for r in out): shutil.rmtree(home, ignore_errors=True)
    else: print(f"[{name}] unexpected statuses: the server's log and audit log are kept in {home}", flush=True)
    return out


def record(folder: Path):
    "Answer the first demo question with the real model and keep its LLM responses and the demo's embeddings."
    home = scratch_home()
    if (home/'cache'/'embeddings.sqlite').exists(): (home/'cache'/'embeddings.sqlite').unlink()
    cache = home/'llm.sqlite'
    key = KeyStore(home/'keys.sqlite').create('admin', 'record', rate_per_min=10_000_000).secret
    env = {'FINRAG_HOME': str(home), 'FINRAG_LLM_CACHE': 'readwrite', 'FINRAG_LLM_CACHE_PATH': str(cache), 'HF_HUB_OFFLINE': '1',
           **FIXTURE_ENV}
    with local_server(env, timeout=600) as url:
        ingest_demo(url, key)
        r = httpx.post(f"{url}/ask", json=questions()[0], headers={'X-API-Key': key}, timeout=900).json()
        print('recorded:', r.get('display'), r.get('expression'), r.get('failed_stage'), r.get('error'))
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in ((cache, folder/'service_llm_cache.sqlite'), (home/'cache'/'embeddings.sqlite', folder/'service_embeddings.sqlite')):
        con = sqlite3.connect(src); con.execute('PRAGMA journal_mode=DELETE'); con.execute('VACUUM'); con.close()
        shutil.copy(src, dst); print('wrote', dst)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--phase', choices=['warm', 'cold', 'both'], default='both')
    ap.add_argument('--levels', default='1,4,16', help='concurrent clients per level')
    ap.add_argument('--warm-requests', type=int, default=200, help='requests per level, warm')
    ap.add_argument('--cold-requests', default='2,4,16', help='requests per level, cold (real generation: keep it small)')
    ap.add_argument('--max-seconds', type=float, default=900, help='stop a level after this long')
    ap.add_argument('--out', type=Path, default=ROOT/'bench'/'results'/'service.json')
    ap.add_argument('--record', type=Path, help='re-record the server tests\' fixtures into this folder and exit')
    a = ap.parse_args()
    if a.record: record(a.record); return 0
    levels, results = [int(x) for x in a.levels.split(',')], []
    if a.phase in ('warm', 'both'):
        fixture = FIXTURES/'service_llm_cache.sqlite'
        tmp = Path(tempfile.mkdtemp())/'llm.sqlite'; shutil.copy(fixture, tmp)
        results += phase('warm', {'FINRAG_LLM_CACHE': 'replay', 'FINRAG_LLM_CACHE_PATH': str(tmp), **FIXTURE_ENV}, questions()[:1],
                         [(c, max(a.warm_requests, c)) for c in levels], a.max_seconds, 60)
    if a.phase in ('cold', 'both'):
        cold = [int(x) for x in a.cold_requests.split(',')]
        env = {'FINRAG_LLM_CACHE': 'off', 'FINRAG_LLM_WAIT_S': '1500',
               'BENTOML_CONFIG_OPTIONS': 'services.finrag.traffic.timeout=1800'}
        results += phase('cold', env, questions(), list(zip(levels, cold)), a.max_seconds, 1800)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(dict(machine=dict(cpus=os.cpu_count(), load=os.getloadavg()), results=results), indent=2))
    print('wrote', a.out)
    bad: dict[str, int] = {}
    for r in results:
        for k, v in r['statuses'].items():
            if k != '200' and not (k.isdigit() and int(k) in DELIBERATE): bad[k] = bad.get(k, 0) + v
    if bad: print('errors other than deliberate 429/503:', bad); return 1
    unanswered = [r for r in results if r['phase'] == 'warm' and r['answered'] != r['ok']]
    if unanswered: print('warm answers that failed (stale LLM cache fixture? re-record with --record):', unanswered); return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
