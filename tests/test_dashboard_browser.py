"""The Voila dashboard in a real browser: Debian's headless chromium, driven over the DevTools protocol.

Voila serves `dashboards/finrag.ipynb` on a free loopback port, in a scratch FINRAG_HOME with the demo corpus
ingested, the real embedding model, and recorded LLM answers (FINRAG_LLM_CACHE=replay over
tests/fixtures/dashboard_llm_cache.sqlite). The test waits for the widgets to render (not "Loading widget..."),
types the demo question, picks the page, clicks Ask, and checks the answer card: the value 13.07% and the cited
table cells highlighted. It saves a screenshot under the test's tmp dir and copies it to /tmp/dashboard.png.

Re-record the fixture when the prompts or retrieval change (the assertion message says so when it is stale):
    FINRAG_HOME=<scratch home with the demo ingested> FINRAG_LLM_CACHE=readwrite \
    FINRAG_LLM_CACHE_PATH=tests/fixtures/dashboard_llm_cache.sqlite \
    finrag ask "what was the percentage change in net revenue from 2023 to 2024?" --page NWI/2024/page_12.pdf
In CI a missing chromium fails the test (`.ci/run` installs it); elsewhere it skips.
"""
import base64, json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT/'tests'/'fixtures'
BIN = Path(sys.executable).parent
QUESTION = 'what was the percentage change in net revenue from 2023 to 2024?'
PAGE = 'NWI/2024/page_12.pdf'
CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', '--hide-scrollbars', '--window-size=1280,1700']


def chromium() -> str:
    "Path of the chromium binary; fails in CI and skips elsewhere when there is none."
    exe = os.environ.get('CHROMIUM') or shutil.which('chromium') or ('/usr/bin/chromium' if Path('/usr/bin/chromium').exists() else None)
    if exe and not Path(exe).exists(): exe = None
    if exe: return exe
    if os.environ.get('CI'): pytest.fail('chromium not found: install it with `apt-get install -y chromium` (.ci/run does)')
    pytest.skip('chromium not installed')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def wait_for(pred, timeout: float, what: str, every: float = 0.25):
    "Poll `pred` until it returns something truthy; fail naming `what` after `timeout` seconds."
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v: return v
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope='module')
def chromium_exe() -> str:
    "The browser, checked before the (slower) dashboard is started."
    return chromium()


@pytest.fixture(scope='module')
def dashboard(tmp_path_factory):
    "URL of a running Voila dashboard over the ingested demo corpus, with replayed LLM answers."
    assert (FIXTURES/'dashboard_llm_cache.sqlite').exists(), 'missing tests/fixtures/dashboard_llm_cache.sqlite (see the module docstring)'
    home = tmp_path_factory.mktemp('finrag-dashboard')
    models = Path(os.environ.get('FINRAG_HOME', ROOT/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    (home/'cache').mkdir()
    emb = FIXTURES/'service_embeddings.sqlite'  # shared with test_service.py: the demo's chunks and the demo question
    if emb.exists(): shutil.copy(emb, home/'cache'/'embeddings.sqlite')  # saves loading the embedding model at all
    shutil.copy(FIXTURES/'dashboard_llm_cache.sqlite', home/'llm_replay.sqlite')
    (home/'runs').mkdir()
    for i, acc in enumerate((0.42, 0.55)):  # two small runs for the Eval runs tab
        (home/'runs'/f'run{i}.json').write_text(json.dumps(dict(dataset='demo', model='qwen2.5-coder-1.5b', failures={'extract': 2 - i},
                                                                metrics=dict(questions=12, accuracy=acc, failure_rate=0.1))))
        os.utime(home/'runs'/f'run{i}.json', (1e9 + i, 1e9 + i))
    env = {**os.environ, 'FINRAG_HOME': str(home), 'FINRAG_LLM_CACHE': 'replay', 'FINRAG_LLM_CACHE_PATH': str(home/'llm_replay.sqlite'),
           'FINRAG_EVAL_RUNS': str(home/'runs'), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false',
           'FINRAG_AGENT_MODE': 'named', 'FINRAG_EVIDENCE_K': '4'}  # what the recorded answers were asked with (the defaults, pinned)
    for k in ('FINRAG_API_URL', 'FINRAG_API_KEY'): env.pop(k, None)
    subprocess.run([str(BIN/'finrag'), 'ingest', str(ROOT/'demo'/'northwind_2024.json')], env=env, check=True, capture_output=True, timeout=300)
    port, log = free_port(), open(home/'voila.log', 'w')
    proc = subprocess.Popen([str(BIN/'voila'), str(ROOT/'dashboards'/'finrag.ipynb'), '--port', str(port), '--no-browser',
                             '--Voila.ip=127.0.0.1', f'--Voila.root_dir={ROOT}'], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for(lambda: proc.poll() is not None or 'is running at' in (home/'voila.log').read_text(), 60, 'voila to start')
        assert proc.poll() is None, (home/'voila.log').read_text()[-3000:]
        yield dict(url=f"http://127.0.0.1:{port}/", home=home)
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


class Browser:
    "A headless chromium tab, driven over the DevTools protocol with websocket-client."
    def __init__(self, exe: str, url: str, profile: Path):
        import websocket
        self.proc = subprocess.Popen([exe, *CHROME_FLAGS, f'--user-data-dir={profile}', '--remote-debugging-port=0', url],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = profile/'DevToolsActivePort'
        wait_for(lambda: active.exists() and active.read_text().strip(), 30, 'chromium to open its DevTools port')
        port = int(active.read_text().split()[0])
        def page_ws():
            tabs = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=5))
            return next((t['webSocketDebuggerUrl'] for t in tabs if t.get('type') == 'page'), None)
        self.ws, self.n = websocket.create_connection(wait_for(page_ws, 20, 'the chromium tab'), timeout=30, suppress_origin=True), 0
        self.events: list[dict] = []  # DevTools events that arrived while waiting for a reply

    def send(self, method: str, **params) -> dict:
        self.n += 1
        self.ws.send(json.dumps(dict(id=self.n, method=method, params=params)))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get('result', {})
            if 'method' in msg: self.events.append(msg)

    def event(self, method: str, timeout: float = 20) -> dict:
        "The params of the first `method` event (kept from earlier calls, or awaited)."
        t0 = time.time()
        while time.time() - t0 < timeout:
            hit = next((e for e in self.events if e['method'] == method), None)
            if hit: self.events.remove(hit); return hit['params']
            msg = json.loads(self.ws.recv())
            if 'method' in msg: self.events.append(msg)
        pytest.fail(f"no {method} event after {timeout:.0f}s")

    def choose_file(self, selector: str, path: Path):
        "Pick `path` in the file chooser that clicking `selector` opens, as a user does."
        self.send('Page.enable')
        self.send('Page.setInterceptFileChooserDialog', enabled=True)
        self.click(selector)
        chooser = self.event('Page.fileChooserOpened')
        self.send('DOM.setFileInputFiles', files=[str(path)], backendNodeId=chooser['backendNodeId'])

    def js(self, expr: str):
        r = self.send('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r: raise RuntimeError(f"{expr[:80]}: {r['exceptionDetails']}")
        return r['result'].get('value')

    def click(self, selector: str, text: str | None = None):
        "A real mouse click in the middle of the first element matching `selector` (and containing `text`)."
        box = self.js(f"""(() => {{ const e = [...document.querySelectorAll({json.dumps(selector)})]
            .find(e => {json.dumps(text)} === null || e.textContent.includes({json.dumps(text)}));
            if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        assert box, f"nothing to click at {selector} {text or ''}"
        for kind in ('mouseMoved', 'mousePressed', 'mouseReleased'):
            self.send('Input.dispatchMouseEvent', type=kind, x=box[0], y=box[1], button='left', clickCount=0 if kind == 'mouseMoved' else 1)

    def screenshot(self, path: Path):
        h = self.js('Math.max(document.body.scrollHeight, 900)')
        self.send('Emulation.setDeviceMetricsOverride', width=1280, height=min(int(h) + 40, 4000), deviceScaleFactor=1, mobile=False)
        path.write_bytes(base64.b64decode(self.send('Page.captureScreenshot', format='png')['data']))

    def close(self):
        try: self.ws.close()
        finally:
            self.proc.terminate()
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.proc.kill()


WIDGETS_READY = """(() => { const t = document.body ? document.body.innerText : '';
  return !!document.querySelector('.finrag-question textarea') && !!document.querySelector('.finrag-page select')
         && !!document.querySelector('button.finrag-ask') && !/Loading widget/i.test(t); })()"""


def test_dashboard_answers_in_chromium(chromium_exe, dashboard, tmp_path):
    t0 = time.time()
    b = Browser(chromium_exe, dashboard['url'], tmp_path/'chromium-profile')
    shot = tmp_path/'dashboard.png'
    try:
        wait_for(lambda: b.js(WIDGETS_READY), 60, 'the widgets to render (voila log: %s)' % (dashboard['home']/'voila.log'))
        b.js("document.querySelector('.finrag-question textarea').focus()")
        b.send('Input.insertText', text=QUESTION)  # real input events, as typing produces
        b.js("document.querySelector('.finrag-question textarea').blur()")
        options = b.js("[...document.querySelector('.finrag-page select').options].map(o => o.value)")
        assert PAGE in options, f"the page picker does not list {PAGE}: {options}"
        b.js(f"(() => {{ const s = document.querySelector('.finrag-page select'); s.value = {json.dumps(PAGE)};"
             " s.dispatchEvent(new Event('change', {bubbles: true})); })()")
        time.sleep(0.3)
        b.click('button.finrag-ask')
        busy_seen = []
        def answered():
            if b.js("!!document.querySelector('.finrag-busy')"): busy_seen.append(True)
            return b.js("(() => { const a = document.querySelector('.finrag-answer'); return a && /finrag-card/.test(a.innerHTML) ? a.innerText : ''; })()")
        text = wait_for(answered, 90 - (time.time() - t0) + 30, 'the answer card')
        b.screenshot(shot)
        shutil.copy(shot, '/tmp/dashboard.png')
        assert '13.07%' in text, f"unexpected answer card (stale fixture? re-record it, see the module docstring):\n{text[:2000]}"
        cited = b.js("[...document.querySelectorAll('.finrag-answer .finrag-cited')].map(e => e.textContent.trim())")
        assert any('1,482.3' in c or '1,310.9' in c for c in cited), f"no highlighted cited cell: {cited}"
        bg = b.js("getComputedStyle(document.querySelector('.finrag-answer td.finrag-cited')).backgroundColor")
        assert bg == 'rgb(255, 241, 118)', f"the cited cell is not highlighted yellow: {bg}"
        assert b.js("!document.querySelector('button.finrag-ask').disabled"), 'the Ask button stayed disabled'
        b.click('.lm-TabBar-tab', 'Eval runs')
        wait_for(lambda: b.js("!!document.querySelector('img.finrag-chart') && document.querySelector('img.finrag-chart').offsetHeight > 0"),
                 20, 'the accuracy chart on the Eval runs tab')
        runs_text = b.js("document.body.innerText")
        assert '55.0%' in runs_text and 'Failures by stage' in runs_text, runs_text[-1500:]
        b.screenshot(tmp_path/'dashboard_runs.png'); shutil.copy(tmp_path/'dashboard_runs.png', '/tmp/dashboard_runs.png')
        print(f"busy indicator seen: {bool(busy_seen)}; answer card:\n{text[:600]}")
    finally:
        if not shot.exists():
            try: b.screenshot(shot); shutil.copy(shot, '/tmp/dashboard.png')
            except Exception: pass
        b.close()


XHTML = """<?xml version='1.0' encoding='ASCII'?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL" xmlns:xbrli="http://www.xbrl.org/2003/instance"><body>
<div style="display:none"><ix:header><ix:hidden><ix:nonNumeric name="dei:DocumentType" contextRef="c-1" id="d-1">10-K</ix:nonNumeric>
<ix:nonNumeric name="dei:TradingSymbol" contextRef="c-1" id="d-2">ACME</ix:nonNumeric><ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="c-1" id="d-3">Dec 31, 2024</ix:nonNumeric>
</ix:hidden><ix:resources><xbrli:context id="c-1"><xbrli:period><xbrli:startDate>2024-01-01</xbrli:startDate><xbrli:endDate>2024-12-31</xbrli:endDate></xbrli:period></xbrli:context>
<xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit></ix:resources></ix:header></div>
<div>Item 8. Financial Statements</div><div>(In millions)</div>
<table><tr><td></td><td>2024</td><td>2023</td></tr>
<tr><td>Revenue</td><td><ix:nonFraction id="f-1" name="us-gaap:Revenues" contextRef="c-1" unitRef="usd" scale="6">120</ix:nonFraction></td><td>100</td></tr></table>
</body></html>"""

UPLOAD_STATUS = "(() => { const s = document.querySelector('.finrag-upload-status'); return s ? s.innerText : ''; })()"


def test_dashboard_upload_in_chromium(chromium_exe, dashboard, tmp_path):
    "The Add a filing tab: an image renamed .pdf is refused with what it is; a small filing goes in and its page can be picked."
    b = Browser(chromium_exe, dashboard['url'], tmp_path/'chromium-profile')
    try:
        wait_for(lambda: b.js(WIDGETS_READY), 60, 'the widgets to render (voila log: %s)' % (dashboard['home']/'voila.log'))
        b.click('.lm-TabBar-tab', 'Add a filing')
        wait_for(lambda: b.js("!!document.querySelector('button.finrag-upload') && document.querySelector('button.finrag-upload').offsetHeight > 0"),
                 20, 'the upload box')
        (tmp_path/'scan.pdf').write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4)
        b.choose_file('button.finrag-upload', tmp_path/'scan.pdf')
        wait_for(lambda: 'scan.pdf (1 KB): chosen' in b.js(UPLOAD_STATUS), 20, 'the file to reach the kernel')
        b.click('button.finrag-ingest')
        text = wait_for(lambda: b.js("(() => { const e = document.querySelector('#finrag-upload-failed'); return e ? e.innerText : ''; })()"),
                        30, 'the refusal')
        assert 'scan.pdf (1 KB) was not ingested.' in text and 'it looks like a PNG image' in text, text
        (tmp_path/'acme-10k.htm').write_text(XHTML)
        b.choose_file('button.finrag-upload', tmp_path/'acme-10k.htm')
        wait_for(lambda: 'acme-10k.htm (1 KB): chosen' in b.js(UPLOAD_STATUS), 20, 'the filing to reach the kernel')
        b.click('button.finrag-ingest')
        text = wait_for(lambda: b.js("(() => { const e = document.querySelector('#finrag-upload-done, #finrag-upload-failed'); return e ? e.innerText : ''; })()"),
                        240, 'the filing to be ingested (the embedding model loads first)')
        b.screenshot(tmp_path/'dashboard_upload.png'); shutil.copy(tmp_path/'dashboard_upload.png', '/tmp/dashboard_upload.png')
        assert 'ingested 1 file (1 page: 1 added' in text and '1 fact stored' in text, text
        assert b.js("getComputedStyle(document.querySelector('.finrag-upload-progress .progress-bar')).width") != '0px'
        b.click('.lm-TabBar-tab', 'Ask')
        options = wait_for(lambda: [o for o in b.js("[...document.querySelector('.finrag-page select').options].map(o => o.value)") if o.startswith('ACME-10-K')],
                           20, 'the new filing in the page picker')
        assert options == ['ACME-10-K-2024-12-31/item-8-financial-statements'], options
    finally: b.close()
