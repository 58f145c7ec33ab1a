"""Resource limits against the real server: a 1 MB question, a filing with a 100,000-row table, many slow connections.

    python bench/bench_limits.py [--rows 100000] [--slow 200] [--slow-seconds 60]

Starts `bentoml serve` in a scratch home (as bench/bench_api_fuzz.py does) and reports, as JSON: each refusal's
status and time, the server's memory (RSS of its process tree) before and at its peak, and how fast ordinary requests
were answered while `--slow` connections each trickled one header byte every few seconds. Exits 1 when a limit did
not hold: a 5xx, a refusal that took more than 30 s, an ordinary request that failed, or memory past 2 GiB.
"""
import argparse, json, os, socket, sys, tempfile, threading, time
from pathlib import Path
import httpx, psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api_fuzz import ingest_demo, prepare, server_env  # noqa: E402


def tree_rss_mb(home: Path) -> float:
    "Resident memory of the server's processes (those started with FINRAG_HOME=home), in MB."
    total = 0
    for p in psutil.process_iter(['pid']):
        try:
            if p.environ().get('FINRAG_HOME') == str(home): total += p.memory_info().rss
        except (psutil.Error, OSError): continue
    return round(total / 2**20, 1)


class Peak(threading.Thread):
    "Samples the server's memory every 0.2 s until stopped; `.peak` is the highest."
    def __init__(self, home: Path): super().__init__(daemon=True); self.home, self.peak, self.stop = home, 0.0, threading.Event()
    def run(self):
        while not self.stop.is_set(): self.peak = max(self.peak, tree_rss_mb(self.home)); time.sleep(0.2)


def big_table_html(rows: int) -> bytes:
    "An inline-XBRL-free 10-K-like page with one table of `rows` rows."
    body = ''.join(f'<tr><td>Segment line {i}</td><td>{i:,}</td><td>{i + 7:,}</td></tr>' for i in range(rows))
    cover = ('<div>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</div><div>FORM 10-K</div>'
             '<div>For the fiscal year ended December 31, 2024</div><div>Huge Tables Corp</div>')
    return (f'<html><body>{cover}<div>Item 8. Financial Statements</div><div>(In millions)</div><table><tr><td></td><td>2024</td><td>2023</td></tr>'
            f'{body}</table></body></html>').encode()


def timed(fn):
    t0 = time.perf_counter(); r = fn(); return r, round(time.perf_counter() - t0, 2)


def slow_clients(url: str, n: int, stop: threading.Event) -> list[socket.socket]:
    "`n` connections that send a request line and then one header byte every 5 s (slowloris)."
    host, port = url.rsplit(':', 1)[0].split('//')[1], int(url.rsplit(':', 1)[1])
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection((host, port), timeout=5); s.sendall(b'POST /ask HTTP/1.1\r\nHost: x\r\n'); socks.append(s)
        except OSError: break
    def trickle():
        while not stop.wait(5):
            for s in list(socks):
                try: s.sendall(b'X')
                except OSError: socks.remove(s)
    threading.Thread(target=trickle, daemon=True).start()
    return socks


def ordinary(url: str, key: str, seconds: float) -> dict:
    "GET /pages every 0.5 s for `seconds`: how many answered 200, and their latencies."
    lat, bad = [], 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            r, t = timed(lambda: httpx.get(f"{url}/pages?limit=5", headers={'Authorization': f"Bearer {key}"}, timeout=30))
            lat.append(t) if r.status_code == 200 else None; bad += r.status_code != 200
        except httpx.HTTPError: bad += 1
        time.sleep(0.5)
    lat.sort()
    return dict(ok=len(lat), failed=bad, p50_s=lat[len(lat) // 2] if lat else None, max_s=lat[-1] if lat else None)


def main() -> int:
    from finrag.api import local_server
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rows', type=int, default=100_000); ap.add_argument('--slow', type=int, default=200)
    ap.add_argument('--slow-seconds', type=float, default=60)
    a = ap.parse_args()
    out, failures = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp); keys = prepare(home)
        env = {**server_env(home), 'FINRAG_MAX_FILE_MB': '50'}
        with local_server(env, log_path=home/'server.log', timeout=300) as url:
            ingest_demo(url, keys['ingester'])
            h = lambda role: {'Authorization': f"Bearer {keys[role]}"}
            out['rss_idle_mb'] = tree_rss_mb(home)
            peak = Peak(home); peak.start()
            r, t = timed(lambda: httpx.post(f"{url}/ask", json={'question': 'x' * 1_000_000}, headers=h('reader'), timeout=60))
            out['question_1mb'] = dict(status=r.status_code, error=r.json().get('error'), seconds=t)
            r, t = timed(lambda: httpx.post(f"{url}/ask", json={'question': 'What was revenue? ' * 300}, headers=h('reader'), timeout=60))
            out['question_5kb'] = dict(status=r.status_code, error=r.json().get('error'), seconds=t)
            data = big_table_html(a.rows)
            r, t = timed(lambda: httpx.post(f"{url}/ingest", files={'file': ('huge-10k.htm', data)}, data={'company': 'HUGE'},
                                           headers=h('ingester'), timeout=120))
            t0 = time.perf_counter()
            while (job := httpx.get(url + r.json()['status_url'], headers=h('ingester'), timeout=60).json())['status'] in ('queued', 'running'):
                if time.perf_counter() - t0 > 1800: break
                time.sleep(0.5)
            out['table_rows'] = dict(rows=a.rows, mb=round(len(data) / 2**20, 1), upload_status=r.status_code, job=job['status'],
                                     error=(job.get('error') or '')[:200], seconds=round(time.perf_counter() - t0 + t, 1),
                                     rss_peak_mb=peak.peak)
            stop = threading.Event()
            socks = slow_clients(url, a.slow, stop)
            out['slow_connections'] = dict(opened=len(socks), ordinary=ordinary(url, keys['reader'], a.slow_seconds), rss_mb=tree_rss_mb(home))
            stop.set(); [s.close() for s in socks]
            out['slow_connections']['after'] = ordinary(url, keys['reader'], 5)
            peak.stop.set(); out['rss_peak_mb'] = peak.peak
    print(json.dumps(out, indent=1))
    for k in ('question_1mb', 'question_5kb'):
        if out[k]['status'] >= 500 or out[k]['seconds'] > 30: failures.append(k)
    if out['table_rows']['job'] not in ('failed', 'done') or out['table_rows']['upload_status'] >= 500: failures.append('table_rows')
    if out['slow_connections']['ordinary']['failed'] or not out['slow_connections']['ordinary']['ok']: failures.append('slow_connections')
    if out['rss_peak_mb'] > 2048: failures.append('memory')
    print('limits held' if not failures else f"limits broken: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
