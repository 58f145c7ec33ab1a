"""The HTTP service end to end: a real `bentoml serve` on a free loopback port, called over HTTP.

The server runs in a scratch FINRAG_HOME with the real embedding model and recorded LLM answers
(FINRAG_LLM_CACHE=replay over tests/fixtures/service_llm_cache.sqlite), so it is fast and deterministic; the demo
corpus is ingested through the API. The fixtures are re-recorded with `python bench/bench_service.py --record
tests/fixtures` when the prompts or retrieval change (the happy-path test says so when they are stale).

The first tests run in process, without a server: a burst of concurrent requests against `FinragAPI` behind the
FastAPI app (a scripted, slow model), and the shape of a 500.
"""
import asyncio, json, logging, os, re, shutil, sqlite3, subprocess, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
import httpx
import pytest
from finrag.api import local_server
from finrag.auth import KeyStore, new_key
from finrag.audit import SqliteAuditLog
from finrag.config import repo_root

ROOT = repo_root()
FIXTURES = ROOT/'tests'/'fixtures'
DEMO = json.loads((ROOT/'demo'/'northwind_2024.json').read_text())
Q = {'question': DEMO[0]['qa']['question'], 'page_id': DEMO[0]['filename']}  # the recorded question


@pytest.fixture(scope='module')
def srv(tmp_path_factory):
    "The running server: url, home, log path, and keys for every role (plus a revoked and a slow one)."
    home = tmp_path_factory.mktemp('finrag-service')
    models = Path(os.environ.get('FINRAG_HOME', ROOT/'.finrag'))/'models'
    if models.is_dir(): (home/'models').symlink_to(models.resolve())
    (home/'cache').mkdir()
    shutil.copy(FIXTURES/'service_embeddings.sqlite', home/'cache'/'embeddings.sqlite')  # saves embedding the demo again
    shutil.copy(FIXTURES/'service_llm_cache.sqlite', home/'llm_replay.sqlite')
    ks = KeyStore(home/'keys.sqlite')
    keys = {r: ks.create(r, f'test-{r}', rate_per_min=100_000).secret for r in ('reader', 'ingester', 'admin')}
    keys['slow'] = ks.create('reader', 'slow', rate_per_min=6).secret  # a bucket of one request
    keys['revoked'] = ks.create('reader', 'gone').secret
    ks.revoke(keys['revoked'].split('_')[1])
    env = {'FINRAG_HOME': str(home), 'FINRAG_LLM_CACHE': 'replay', 'FINRAG_LLM_CACHE_PATH': str(home/'llm_replay.sqlite'),
           'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', 'FINRAG_DATABASE_URL': '',
           'FINRAG_AGENT_MODE': 'named', 'FINRAG_EVIDENCE_K': '4',  # what the recorded answers were asked with (the defaults, pinned)
           'FINRAG_MAX_FILE_MB': '1'}  # uploads: a small limit, so an oversize file is cheap to send
    log = home/'server.log'
    with local_server(env, log_path=log, timeout=300) as url:
        yield dict(url=url, home=home, log=log, keys=keys)


def call(srv, method, path, role=None, **kw):
    headers = {**({'Authorization': f"Bearer {srv['keys'][role]}"} if role else {}), **kw.pop('headers', {})}
    return httpx.request(method, srv['url'] + path, headers=headers, timeout=120, **kw)


@pytest.fixture(scope='module')
def corpus(srv):
    "Ask before anything is indexed (kept for the test), then ingest the demo corpus through the API."
    empty = call(srv, 'POST', '/ask', 'reader', json=Q)
    r = call(srv, 'POST', '/ingest', 'ingester', json=DEMO)
    assert r.status_code == 202, r.text
    t0 = time.time()
    while (job := call(srv, 'GET', r.json()['status_url'], 'ingester').json())['status'] in ('queued', 'running'):
        assert time.time() - t0 < 300, 'ingestion did not finish'
        time.sleep(0.3)
    return dict(empty=empty, accepted=r.json(), job=job)


def err(r):
    "(status, error code, field) of an error response, checking it is our JSON shape."
    body = r.json()
    assert set(body) >= {'error', 'message', 'field', 'reason', 'request_id'}, body
    return r.status_code, body['error'], body['field']


# --- in process: a burst of first requests, and what a bug looks like ---------------------------------------

def _scripted(messages, schema):
    "A slow model answering the demo question with cited variables: the change in net revenue, from its row."
    time.sleep(0.02)
    label = re.search(r'\[(R\d+)\] net revenue', '\n'.join(m['content'] for m in messages)).group(1)
    return json.dumps({'expression': '(a - b) / b', 'kind': 'percent', 'variables': [
        {'name': 'a', 'source': label, 'column': '2024', 'value': '1,482.3'}, {'name': 'b', 'source': label, 'column': '2023', 'value': '1,310.9'}]})


def _core(home, **settings):
    "A started `FinragAPI` over `home`: hashing embedder, scripted model, its own metrics registry."
    from prometheus_client import CollectorRegistry
    from finrag.admission import Metrics
    from finrag.api import FinragAPI
    from finrag.config import Settings
    from finrag.ingest import make_embedder
    from finrag.llm import FakeLLM
    s = Settings(_env_file=None, home=home, llm_cache='off', agent_mode='one_call', rate_per_min=100_000, **settings)
    return FinragAPI(s, embedder=make_embedder(s, name='fake-64'), llm=FakeLLM(_scripted),
                     metrics=Metrics(CollectorRegistry())).start(background=False)


def _requests(core, calls, raise_app_exceptions=True):
    "Send `calls` [(method, path, role, json)] at once to the FastAPI app over `core`; the responses in order."
    from finrag.service import app
    app.state.core = core
    keys = {r: core.keys.create(r).secret for r in {c[2] for c in calls}}
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url='http://finrag', timeout=60) as c:
            return await asyncio.gather(*(c.request(m, p, json=j, headers={'Authorization': f"Bearer {keys[r]}"})
                                          for m, p, r, j in calls))
    return asyncio.run(go())


def _wait_job(core, job_id):
    t0 = time.time()
    while (j := core.jobs.get(job_id)).status in ('queued', 'running'):
        assert time.time() - t0 < 60, 'ingestion did not finish'; time.sleep(0.05)
    return j


def test_burst_of_first_questions_after_a_restart(tmp_path, monkeypatch):
    """16 questions at once to a server just started over an existing index: no 500, only answers and deliberate 503s.

    Every pool thread opens its stores on its first question. Before they were opened one at a time, two threads
    opening embedded Chroma together raced on chromadb's process-wide system (registered before it is started) and
    one got `ValueError: Could not connect to tenant default_tenant` or `AttributeError: ... 'bindings'`: a 500.
    The test widens that window (a slow `System.start`) so the race would be hit every time."""
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import System
    first = _core(tmp_path)
    assert _wait_job(first, first.ingest(first.keys.create('ingester').key, DEMO).id).status == 'done'
    first.close()
    # a new process: chromadb has not started the store yet (it would keep it open for the whole process)
    ident = str(first.settings.chroma_dir)
    SharedSystemClient._identifier_to_system.pop(ident).stop()
    SharedSystemClient._identifier_to_refcount.pop(ident, None)
    start = System.start
    monkeypatch.setattr(System, 'start', lambda self: (time.sleep(0.3), start(self))[1])
    core = _core(tmp_path, llm_queue=2)  # the model takes one question and 2 waiting: the rest get a deliberate 503
    try:
        rs = _requests(core, [('POST', '/ask', 'reader', Q)] * 16)
    finally: core.close()
    statuses = [r.status_code for r in rs]
    assert set(statuses) <= {200, 503} and 200 in statuses, [(r.status_code, r.text[:300]) for r in rs]
    assert all(r.json()['display'] == '13.07%' for r in rs if r.status_code == 200)
    assert all(r.json()['error'] == 'busy' and int(r.headers['retry-after']) >= 1 for r in rs if r.status_code == 503)
    assert core.gate.admitted == 0 and core._inflight == 0
    recs = [x for x in core.audit.tail(100) if x['route'] == '/ask']
    assert sorted(x['status'] for x in recs) == sorted(statuses) and core.audit.verify().ok


def test_a_bug_is_a_logged_json_500_naming_the_request(tmp_path, caplog):
    "An unexpected exception, in authentication or in the work itself: a JSON 500 with the request id, logged with its traceback."
    core = _core(tmp_path)
    def broken_store(token): raise sqlite3.OperationalError('disk I/O error in /srv/secret-path')
    try:
        with caplog.at_level(logging.ERROR, logger='finrag.api'):
            core.keys.authenticate = broken_store
            (auth,) = _requests(core, [('GET', '/pages', 'reader', None)], raise_app_exceptions=False)
            del core.keys.authenticate
            core._answer = lambda *a: {}['no such key']
            (work,) = _requests(core, [('POST', '/ask', 'reader', Q)])
    finally: core.close()
    for r, exc in ((auth, 'OperationalError'), (work, 'KeyError')):
        rid = r.headers['x-request-id']
        assert r.status_code == 500 and r.headers['content-type'] == 'application/json', r.text
        assert err(r)[:2] == (500, 'internal') and r.json()['request_id'] == rid and rid in r.json()['message']
        assert 'secret' not in r.text and 'no such key' not in r.text
        logged = [x for x in caplog.records if rid in x.getMessage()]
        assert logged and logged[0].exc_info and logged[0].exc_info[0].__name__ == exc
        rec = next(x for x in core.audit.tail(10) if x['request_id'] == rid)
        assert rec['status'] == 500 and rec['detail']['error']['exception'] == exc


# --- probes, schema ---------------------------------------------------------------------------------------

def test_probes_and_openapi(srv):
    assert call(srv, 'GET', '/healthz').status_code == 200
    assert call(srv, 'GET', '/readyz').status_code == 200
    spec = call(srv, 'GET', '/docs.json').json()
    assert {'/ask', '/ingest', '/jobs/{job_id}', '/pages', '/audit/verify'} <= set(spec['paths'])
    assert {'APIKeyHeader', 'HTTPBearer'} <= set(spec['components'].get('securitySchemes', {}))


# --- ingestion and the happy path -------------------------------------------------------------------------

def test_empty_index_is_a_clear_409(corpus):
    assert err(corpus['empty']) == (409, 'empty_index', None)
    assert 'ingest pages first' in corpus['empty'].json()['message']


def test_ingest_job_reports(corpus):
    assert corpus['accepted']['pages'] == 5 and corpus['accepted']['records'] == len(DEMO)
    job = corpus['job']
    assert job['status'] == 'done', job
    assert job['report']['pages_added'] == 5 and job['report']['chunks_added'] > 40 and not job['report']['errors']


def test_pages_lists_the_index(srv, corpus):
    r = call(srv, 'GET', '/pages?limit=2', 'reader').json()
    assert r['total'] == 5 and len(r['pages']) == 2 and Q['page_id'] in call(srv, 'GET', '/pages', 'reader').json()['pages']


def test_ask_happy_path(srv, corpus):
    r = call(srv, 'POST', '/ask', 'reader', json=Q)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a['failed_stage'] is None, (f"the recorded LLM answers no longer match the prompts ({a['error']}); "
                                       "re-record: python bench/bench_service.py --record tests/fixtures")
    assert a['ok'] and a['display'] and a['expression'] and a['request_id'] == r.headers['x-request-id']
    assert a['values'] and all(v['grounded'] and v['ref'] and v['chunk_id'] and v['quote'] for v in a['values'])
    assert {s['stage'] for s in a['trace']} == {'retrieval', 'specify', 'extract', 'evaluate'}
    assert all(s['cached'] for s in a['trace'] if s['calls']) and a['trace'][1]['prompt'].startswith('named@v')
    assert a['evidence'] and a['evidence'][0]['label']


def test_admin_may_ask_too(srv, corpus):
    assert call(srv, 'POST', '/ask', 'admin', json=Q).json()['ok']


# --- auth -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('headers,message', [
    ({}, 'no API key was sent'),
    ({'Authorization': 'Bearer not-a-key'}, 'malformed'),
    ({'X-API-Key': new_key()[1]}, 'not valid'),
    ({'Authorization': 'Basic dXNlcjpwYXNz'}, 'no API key was sent'),
])
def test_unauthenticated(srv, headers, message):
    r = call(srv, 'POST', '/ask', json=Q, headers=headers)
    assert err(r)[:2] == (401, 'unauthenticated') and message in r.json()['message']
    assert r.headers['www-authenticate'] == 'Bearer'


def test_wrong_secret_for_a_real_key_id(srv):
    kid = srv['keys']['reader'].split('_')[1]
    r = call(srv, 'GET', '/pages', headers={'X-API-Key': f"frg_{kid}_{'x' * 43}"})
    assert err(r)[:2] == (401, 'unauthenticated') and 'not valid' in r.json()['message']


def test_revoked_key(srv):
    r = call(srv, 'GET', '/pages', 'revoked')
    assert err(r)[:2] == (401, 'unauthenticated') and 'was revoked' in r.json()['message']


@pytest.mark.parametrize('role,method,path,body', [
    ('reader', 'POST', '/ingest', DEMO[:1]), ('ingester', 'POST', '/ask', Q),
    ('reader', 'GET', '/audit/verify', None), ('ingester', 'GET', '/audit/records', None), ('reader', 'GET', '/jobs/x', None)])
def test_forbidden(srv, role, method, path, body):
    r = call(srv, method, path, role, json=body)
    assert err(r)[:2] == (403, 'forbidden') and f"role '{role}' may not" in r.json()['message']


def test_rate_limit(srv):
    first = call(srv, 'GET', '/pages', 'slow')
    r = call(srv, 'GET', '/pages', 'slow')
    assert first.status_code == 200 and err(r)[:2] == (429, 'rate_limited')
    assert 1 <= int(r.headers['retry-after']) <= 10


# --- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('body,status,field', [
    ({'question': 'x' * 1001}, 422, 'question'),
    ({'question': ''}, 422, 'question'),
    ({'question': '    '}, 422, 'question'),
    ({'question': '12345 ?'}, 422, 'question'),
    ({'question': 123}, 422, 'question'),
    ({}, 422, 'question'),
    ({'question': 'what was revenue?', 'year': 'soon'}, 422, 'year'),
    ({'question': 'what was revenue?', 'year': 20240}, 422, 'year'),
    ({'question': 'what was revenue?', 'page': 'x'}, 422, 'page'),
    ({'question': 'what was revenue?', 'page_id': 'NOPE/2024/page_1.pdf'}, 404, 'page_id'),
    ({'question': 'what was revenue?', 'company': 'NOPE'}, 404, 'company'),
    ([1, 2], 422, 'body'),
])
def test_bad_ask_bodies(srv, corpus, body, status, field):
    r = call(srv, 'POST', '/ask', 'reader', json=body)
    assert err(r)[0::2] == (status, field), r.text
    assert r.json()['reason']


def test_lone_surrogate_is_refused_not_crashed(srv, corpus):
    r = call(srv, 'POST', '/ask', 'reader', content=b'{"question": "what was revenue \\ud800?"}',
             headers={'content-type': 'application/json'})
    assert err(r)[0::2] == (422, 'question')


def test_invalid_json(srv):
    r = call(srv, 'POST', '/ask', 'reader', content=b'{"question": ', headers={'content-type': 'application/json'})
    assert err(r) == (400, 'invalid_json', 'body')


def test_huge_body_with_length(srv):
    r = call(srv, 'POST', '/ask', 'reader', json={'question': 'x' * 200_000})
    assert err(r) == (413, 'too_large', 'body')


def test_huge_body_streamed_without_length(srv):
    def chunks():
        yield b'{"question": "'
        for _ in range(100): yield b'x' * 4096
        yield b'"}'
    r = call(srv, 'POST', '/ask', 'reader', content=chunks(), headers={'content-type': 'application/json'})
    assert err(r) == (413, 'too_large', 'body')


def test_bad_ingest_records(srv):
    bad = [DEMO[0], {**DEMO[1], 'table': [['', '2024'], ['revenue', '1', '2']]}]
    r = call(srv, 'POST', '/ingest', 'ingester', json=bad)
    assert err(r) == (422, 'invalid_request', '[1].table') and 'row 1 has 3 cells' in r.json()['reason']
    assert err(call(srv, 'POST', '/ingest', 'ingester', json={'not': 'a list'}))[0::2] == (422, 'body')
    assert err(call(srv, 'POST', '/ingest', 'ingester', json=[]))[0] == 422
    assert err(call(srv, 'GET', '/jobs/does-not-exist', 'ingester')) == (404, 'not_found', 'job_id')


# --- concurrency ------------------------------------------------------------------------------------------

def test_concurrent_clients(srv, corpus):
    "16 clients at once: every answer arrives, and they agree."
    with ThreadPoolExecutor(16) as ex:
        rs = list(ex.map(lambda _: call(srv, 'POST', '/ask', 'reader', json=Q), range(32)))
    assert [r.status_code for r in rs] == [200] * 32
    assert len({r.json()['display'] for r in rs}) == 1 and len({r.json()['request_id'] for r in rs}) == 32


def test_ingestion_does_not_block_ask(srv, corpus):
    "While a job embeds 60 new pages, questions are still answered promptly."
    pages = [{'id': f'LOAD/2020/page_{i}.pdf-1', 'pre_text': [f'filler text number {i} about widgets {i * 7919} .'] * 4,
              'post_text': [], 'table': [['', '2020', '2019'], [f'widgets {i}', str(i), str(i + 1)]]} for i in range(60)]
    job = call(srv, 'POST', '/ingest', 'ingester', json=pages).json()
    t0 = time.time()
    r = call(srv, 'GET', '/pages', 'reader')
    a = call(srv, 'POST', '/ask', 'reader', json=Q)
    waited = time.time() - t0
    status = call(srv, 'GET', job['status_url'], 'ingester').json()['status']
    assert r.status_code == 200 and a.status_code == 200 and waited < 20, (waited, a.text[:300])
    while status in ('queued', 'running'):
        time.sleep(0.5); status = call(srv, 'GET', job['status_url'], 'ingester').json()['status']
    assert status == 'done'


# --- uploads: a file as a multipart form, checked by size and content, ingested by a job -------------------

XHTML = """<?xml version='1.0' encoding='ASCII'?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:ix="http://www.xbrl.org/2013/inlineXBRL" xmlns:xbrli="http://www.xbrl.org/2003/instance"><body>
<div style="display:none"><ix:header><ix:hidden><ix:nonNumeric name="dei:DocumentType" contextRef="c-1" id="d-1">10-K</ix:nonNumeric>
<ix:nonNumeric name="dei:TradingSymbol" contextRef="c-1" id="d-2">ACME</ix:nonNumeric><ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="c-1" id="d-3">Dec 31, 2024</ix:nonNumeric>
</ix:hidden><ix:resources><xbrli:context id="c-1"><xbrli:period><xbrli:startDate>2024-01-01</xbrli:startDate><xbrli:endDate>2024-12-31</xbrli:endDate></xbrli:period></xbrli:context>
<xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit></ix:resources></ix:header></div>
<div>Item 8. Financial Statements</div><div>(In millions)</div>
<table><tr><td></td><td>2024</td><td>2023</td></tr>
<tr><td>Revenue</td><td><ix:nonFraction id="f-1" name="us-gaap:Revenues" contextRef="c-1" unitRef="usd" scale="6">120</ix:nonFraction></td><td>100</td></tr>
<tr><td>Net income</td><td><ix:nonFraction id="f-2" name="us-gaap:NetIncomeLoss" contextRef="c-1" unitRef="usd" scale="6">14</ix:nonFraction></td><td>11</td></tr></table>
</body></html>"""
PNG = b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(range(256)) * 8


def upload(srv, name, data, role='ingester', **fields):
    return call(srv, 'POST', '/ingest', role, files={'file': (name, data)}, data=fields)


def finished(srv, url, role='ingester'):
    t0 = time.time()
    while (job := call(srv, 'GET', url, role).json())['status'] in ('queued', 'running'):
        assert time.time() - t0 < 300, f'the job did not finish: {job}'
        time.sleep(0.3)
    return job


def test_upload_a_filing(srv, corpus):
    "An inline XBRL filing as a multipart form: 202 at once, then a job that reports its page and both facts."
    r = upload(srv, 'ACME 10-K.htm', XHTML.encode(), company='acme')
    assert r.status_code == 202, r.text
    acc = r.json()
    assert acc['file'] == dict(name='ACME_10-K.htm', size=len(XHTML), format='html', company='ACME') and acc['records'] == 0
    job = finished(srv, acc['status_url'])
    assert job['status'] == 'done' and job['error'] is None, job
    rep = job['report']
    assert (job['pages'], rep['files'], rep['pages_added'], rep['facts'], rep['errors']) == (1, 1, 1, 2, []), rep
    assert rep['chunks_added'] >= 2 and job['file']['name'] == 'ACME_10-K.htm'
    assert 'ACME-10-K-2024-12-31/item-8-financial-statements' in call(srv, 'GET', '/pages?limit=10000', 'reader').json()['pages']
    again = finished(srv, upload(srv, 'ACME 10-K.htm', XHTML.encode(), company='ACME').json()['status_url'])  # the same again: nothing new
    assert (again['report']['pages_unchanged'], again['report']['pages_added'], again['report']['facts']) == (1, 0, 2), again
    assert list((srv['home']/'uploads').iterdir()) == []  # each job removed its saved file


def test_upload_that_cannot_be_read_fails_its_job(srv):
    "A file that is a PDF only by its first bytes is accepted (reading it is the job's work) and its job fails, saying why."
    r = upload(srv, 'broken.pdf', b'%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n' + b'\x00' * 100)
    assert r.status_code == 202 and r.json()['file']['format'] == 'pdf', r.text
    job = finished(srv, r.json()['status_url'])
    assert job['status'] == 'failed' and job['error'].startswith('broken.pdf: cannot read this PDF'), job
    assert str(srv['home']) not in job['error']  # the message names the client's file, not where the server kept it


def test_upload_refusals(srv):
    "Wrong kind of file, wrong format, a field too many, no file, a reader's key: each a JSON error naming the field."
    png = upload(srv, 'scan.pdf', PNG)
    assert err(png) == (415, 'unsupported_media_type', 'file') and 'it looks like a PNG image' in png.json()['message']
    html_as_pdf = upload(srv, 'x.pdf', XHTML.encode(), format='pdf')
    assert err(html_as_pdf) == (415, 'unsupported_media_type', 'format') and 'not pdf' in html_as_pdf.json()['message']
    assert err(upload(srv, 'x.htm', XHTML.encode(), format='docx'))[0::2] == (422, 'format')
    assert err(upload(srv, 'x.htm', XHTML.encode(), company='A/B'))[0::2] == (422, 'company')
    assert err(upload(srv, 'x.htm', XHTML.encode(), extra='1'))[0::2] == (422, 'extra')
    assert err(upload(srv, 'empty.htm', b''))[0::2] == (422, 'file')
    assert err(call(srv, 'POST', '/ingest', 'ingester', files={'company': (None, 'ACME')}))[0::2] == (422, 'file')
    assert err(upload(srv, 'x.htm', XHTML.encode(), role='reader'))[:2] == (403, 'forbidden')
    assert err(call(srv, 'POST', '/ingest', 'ingester', content=b'a=1', headers={'content-type': 'application/x-www-form-urlencoded'}))[0] == 415


def test_upload_over_the_file_limit(srv):
    "FINRAG_MAX_FILE_MB=1: a larger file is a 413, whether the body declares its length or streams without one."
    big = upload(srv, 'big.txt', b'revenue rose. ' * 110_000)  # 1.5 MB
    assert err(big) == (413, 'too_large', 'file')
    assert big.json()['message'] == 'the file is larger than the 1 MB allowed (FINRAG_MAX_FILE_MB)'
    def body():
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        for _ in range(48): yield b'revenue rose. ' * 2400  # 1.6 MB in all
        yield b'\r\n--xyz--\r\n'
    r = call(srv, 'POST', '/ingest', 'ingester', content=body(), headers={'content-type': 'multipart/form-data; boundary=xyz'})
    assert err(r) == (413, 'too_large', 'file'), r.text
    small = upload(srv, 'notes.txt', b'Revenue rose to $12 million in 2024. ' * 1000)  # 37 KB: under the limit
    assert small.status_code == 202 and finished(srv, small.json()['status_url'])['status'] == 'done'


# --- schemathesis: no 5xx anywhere --------------------------------------------------------------------------

def test_a_key_scoped_to_a_company_reads_and_writes_only_its_filings(srv, corpus):
    "A reader and an ingester limited to ACME: NWI's pages are invisible to them, and they cannot add another company's filing."
    assert finished(srv, upload(srv, 'ACME 10-K.htm', XHTML.encode(), company='ACME').json()['status_url'])['status'] == 'done'
    ks = KeyStore(srv['home']/'keys.sqlite')
    for role in ('reader', 'ingester'): srv['keys'][f'acme-{role}'] = ks.create(role, f'acme {role}', 100_000, ['ACME']).secret
    listed = call(srv, 'GET', '/pages?limit=10000', 'acme-reader').json()
    assert listed['pages'] and all(p.startswith('ACME-') for p in listed['pages']) and listed['total'] == len(listed['pages']), listed
    assert any(p.startswith('NWI/') for p in call(srv, 'GET', '/pages?limit=10000', 'reader').json()['pages'])
    hidden = call(srv, 'POST', '/ask', 'acme-reader', json=Q)  # NWI's page: as if it did not exist
    assert err(hidden) == (404, 'not_found', 'page_id') and Q['page_id'] in hidden.json()['message'], hidden.text
    assert err(call(srv, 'POST', '/ask', 'acme-reader', json={'question': 'What was net revenue in 2024?', 'company': 'NWI'}))[:2] == (403, 'forbidden')
    open_q = call(srv, 'POST', '/ask', 'acme-reader', json={'question': 'What was net revenue in 2024?'}).json()
    assert open_q['evidence'] and all((it['page_id'] or '').startswith('ACME-') for it in open_q['evidence']), open_q['evidence']
    assert 'NWI' not in json.dumps(open_q)  # nothing of another company's filing, not even in a "which company?" list
    assert err(call(srv, 'POST', '/ingest', 'acme-ingester', json=DEMO))[:2] == (403, 'forbidden')
    assert err(upload(srv, 'x.htm', XHTML.encode(), role='acme-ingester', company='NWI'))[:2] == (403, 'forbidden')
    evil = finished(srv, upload(srv, 'EVIL 10-K.htm', XHTML.replace('>ACME<', '>EVIL<').encode(), role='acme-ingester').json()['status_url'],
                    role='acme-ingester')
    assert evil['status'] == 'failed' and 'a filing of EVIL; this key may ingest only ACME' in evil['error'], evil
    assert not any(p.startswith('EVIL-') for p in call(srv, 'GET', '/pages?limit=10000', 'reader').json()['pages'])
    recs = SqliteAuditLog(srv['home']/'audit.sqlite').tail(30)
    assert any(r.get('companies') == ['ACME'] and r['route'] == '/ask' for r in recs)  # the scope is in the audit record


def test_openapi_fuzz_finds_no_server_errors_and_no_leaks(srv, corpus, tmp_path):
    "A slice of `bench/bench_api_fuzz.py`: every endpoint, no 5xx, no trace, path, exception name or key secret in any response."
    sys.path.insert(0, str(ROOT/'bench'))
    from bench_api_fuzz import fuzz
    code, tail, counts = fuzz(srv['url'], srv['keys'], tmp_path, max_examples=10, seed=1, workers=1, max_time=90)
    assert code == 0, tail
    assert sum(counts.values()) > 50 and not any(s.startswith('5') for s in counts), counts


# --- metrics and the audit log (last: they look at what the tests above did) --------------------------------

def test_metrics(srv, corpus):
    text = call(srv, 'GET', '/metrics').text
    for name in ('finrag_requests_total{', 'finrag_request_seconds_bucket{', 'finrag_stage_seconds_bucket{',
                 'finrag_rejected_total{', 'finrag_ingest_jobs_total{status="done"}', 'bentoml_service_request_total{'):
        assert name in text, name
    assert re.search(r'^finrag_llm_tokens_total\{[^}]*cached="true"[^}]*\} [1-9]', text, re.M)
    assert re.search(r'^finrag_stage_seconds_count\{stage="specify"\} [1-9]', text, re.M)


def test_audit_records_every_request_without_keys(srv, corpus):
    latest = call(srv, 'GET', '/audit/records?limit=5', 'admin').json()
    assert len(latest) == 5 and latest[-1]['seq'] > latest[0]['seq']
    recs = SqliteAuditLog(srv['home']/'audit.sqlite').tail(100_000)
    statuses = {r['status'] for r in recs}
    assert {200, 202, 400, 401, 403, 404, 409, 413, 415, 422, 429} <= statuses, statuses
    up = next(r for r in recs if r['route'] == '/ingest' and r['status'] == 202 and r['detail'].get('file') == 'ACME_10-K.htm')
    assert (up['detail']['format'], up['detail']['company'], up['detail']['size'], up['role']) == ('html', 'ACME', len(XHTML), 'ingester')
    assert 'Revenue' not in json.dumps(up)  # the record names the file; its content is not logged
    ask = next(r for r in recs if r['route'] == '/ask' and r['status'] == 200)
    d = ask['detail']
    assert ask['role'] in ('reader', 'admin') and ask['key_id'] and ask['latency_ms'] > 0
    assert d['question'] == Q['question'] and d['evidence'] and d['values'] and d['expression'] and d['model']
    assert d['prompts'] and d['answer']['display']
    denied = [r for r in recs if r['status'] == 401]
    assert denied and all(r['role'] is None for r in denied)
    blob = json.dumps(recs) + srv['log'].read_text(errors='replace')
    for secret in srv['keys'].values(): assert secret.split('_', 2)[2] not in blob  # no key in the log or the records


def test_personal_data_in_a_question_is_redacted_in_the_audit_log(srv, corpus):
    q = 'What was revenue? Reply to jane.doe@example.com or (212) 555-0187, card 4111 1111 1111 1111.'
    r = call(srv, 'POST', '/ask', 'reader', json={'question': q, 'page_id': 'NOPE/2024/page_1.pdf'})
    assert r.status_code == 404, r.text  # refused, and audited with the question
    recs = SqliteAuditLog(srv['home']/'audit.sqlite').tail(20)
    ask = next(r for r in reversed(recs) if r['route'] == '/ask' and 'Reply to' in (r['detail'].get('question') or ''))
    assert ask['detail']['question'] == 'What was revenue? Reply to [email] or [phone], card [card].', ask['detail']
    assert 'jane.doe' not in json.dumps(recs) and '555-0187' not in json.dumps(recs)
    assert call(srv, 'GET', '/audit/verify', 'admin').json()['ok']  # redacted before hashing: the chain holds


def test_audit_chain_verifies_and_catches_tampering(srv, corpus):
    rep = call(srv, 'GET', '/audit/verify', 'admin').json()
    assert rep['ok'] and rep['records'] > 50, rep
    log = SqliteAuditLog(srv['home']/'audit.sqlite')
    with closing(sqlite3.connect(log.path, isolation_level=None)) as con:
        con.execute('DROP TRIGGER audit_log_no_update')
        con.execute("UPDATE audit_log SET payload = replace(payload, '\"status\":403', '\"status\":200') WHERE seq = "
                    "(SELECT MIN(seq) FROM audit_log WHERE payload LIKE '%\"status\":403%')")
    rep = call(srv, 'GET', '/audit/verify', 'admin').json()
    assert not rep['ok'] and 'content does not match its hash (edited)' in rep['problems'][0]


# --- packaging --------------------------------------------------------------------------------------------

def test_bentofile_lists_the_runtime_dependencies():
    "bentofile.yaml cannot read pyproject.toml, so it repeats its dependencies; keep them in step."
    import tomllib, yaml
    deps = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['dependencies']
    bento = yaml.safe_load((ROOT/'bentofile.yaml').read_text())
    assert set(deps) <= set(bento['python']['packages']), set(deps) - set(bento['python']['packages'])
    assert bento['python']['lock_packages'] is False and bento['service'] == 'finrag.service:FinRAG'
