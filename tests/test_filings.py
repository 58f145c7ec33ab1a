"Real SEC filings (../shared/filings): tables read back their XBRL facts, metadata from the filing, bad files fail alone, crashes leave every filing once."
import os, signal, sqlite3, subprocess, sys, time
from contextlib import closing
from pathlib import Path
import pytest
from finrag.config import Settings
from finrag.documents import document_paths
from finrag.filings import check_facts, read_filing
from finrag.files import fact_store, ingest_files
from finrag.ingest import FakeEmbedder, Index, chunk_page

FILINGS = ['aapl-10-k-2024-11-01.html', 'aapl-10-q-2025-08-01.html', 'ibm-10-k-2025-02-25.html', 'nflx-10-k-2025-01-27.html',
           'nvda-10-k-2025-02-26.html', 'tsla-10-k-2025-01-30.html', 'unp-10-q-2025-07-24.html', 'wfc-10-k-2025-02-25.html']
FISCAL = {'aapl-10-k': ('FY', 2024, '2024-09-28'), 'aapl-10-q': ('Q3', 2025, '2025-06-28'), 'ibm-10-k': ('FY', 2024, '2024-12-31'),
          'nflx-10-k': ('FY', 2024, '2024-12-31'), 'nvda-10-k': ('FY', 2025, '2025-01-26'), 'tsla-10-k': ('FY', 2024, '2024-12-31'),
          'unp-10-q': ('Q2', 2025, '2025-06-30'), 'wfc-10-k': ('FY', 2024, '2024-12-31')}  # from each filing's cover page


@pytest.fixture(scope='module')
def filings() -> Path:
    "The folder of real filings beside the benchmark data; missing fails in CI and skips elsewhere."
    d = Settings().data_dir
    f = d.parent/'filings' if d else None
    if f is None or not (f/FILINGS[0]).is_file():
        if os.environ.get('CI'): pytest.fail("the real filings are not at $FINRAG_DATA_DIR/../filings")
        pytest.skip("real filings not available")
    return f


@pytest.mark.parametrize('name', FILINGS)
def test_every_fact_reads_back_from_its_cell(filings, name):
    ds = read_filing((filings/name).read_bytes(), name)
    c = check_facts(ds)
    assert c.facts >= 2 and c.read_back / c.facts >= 0.99, (c.facts, c.read_back, c.misses[:5])
    meta = next(iter(ds.pages.values())).filing
    ticker, form = name.split('-')[0].upper(), '-'.join(name.split('-')[1:3]).upper()
    assert (meta.ticker, meta.form, meta.cik.isdigit()) == (ticker, form, True)
    assert (meta.fiscal_period, meta.fiscal_year, meta.period_end) == FISCAL[name.rsplit('-', 3)[0]]
    assert all(p.filing == meta and p.company == ticker for p in ds.pages.values())


def test_statement_rows_have_period_headers_parents_and_scale(filings):
    ds = read_filing((filings/'aapl-10-q-2025-08-01.html').read_bytes(), 'aapl-10-q')
    t = next(t for p in ds.pages.values() for t in p.tables if t.title and 'STATEMENTS OF OPERATIONS' in t.title)
    assert t.header[1:] == ['Three Months Ended June 28, 2025', 'Three Months Ended June 29, 2024', 'Nine Months Ended June 28, 2025', 'Nine Months Ended June 29, 2024']
    assert ['Net sales: Products', '$ 66,613', '$ 61,564', '$ 233,287', '$ 224,908'] in t.rows
    assert ['Other income/(expense), net', '(171)', '142', '(698)', '250'] in t.rows
    assert t.scale == 'millions'
    hidden = ' '.join(x for p in ds.pages.values() for x in p.texts)
    assert 'RevenueRemainingPerformanceObligation' not in hidden and 'P1Y' not in hidden  # the hidden XBRL header is never text


def test_a_schedule_of_year_rows_carries_its_heading(filings):
    "Schedule II lists a row per year under each allowance: the year alone would say nothing, so the label carries the heading."
    ds = read_filing((filings/'ibm-10-k-2025-02-25.html').read_bytes(), 'ibm-10-k')
    rows = {r[0]: r[1:] for p in ds.pages.values() for t in p.tables for r in t.rows}
    assert rows['Allowance For Inventory Losses: 2024'] == ['$ 658', '$ 122', '$ (199)', '$ (4)', '$ 577']
    assert rows['Allowance For Credit Losses (1) (2): 2024: –Current'][0] == '$ 431'
    fact = next(f for f in ds.facts if f.id == 'f-178')  # the XBRL fact keeps the path as its label
    assert (fact.label, fact.value) == ('Allowance For Inventory Losses: 2024', 577e6)


def _copy_bad_files(filings: Path, d: Path):
    "A truncated filing, a 60 MB file, an HTML page that is not a filing, a binary renamed .pdf, and an empty text file."
    good = (filings/'aapl-10-q-2025-08-01.html').read_bytes()
    (d/'cut-10-q.htm').write_bytes(good[:len(good) // 2])
    with open(d/'huge.htm', 'wb') as f: f.truncate(60 * 2**20)
    (d/'blog.html').write_text('<html><body><h1>My holiday</h1><p>Photos of the beach.</p></body></html>')
    (d/'report.pdf').write_bytes(b'\x89PNG\r\n\x1a\n' + os.urandom(2000))
    (d/'empty.txt').write_text('\n')


def test_bad_files_fail_alone_and_reingest_adds_nothing(filings, tmp_path):
    d = tmp_path/'in'; d.mkdir()
    _copy_bad_files(filings, d)
    (d/'aapl-10-q.htm').write_bytes((filings/'aapl-10-q-2025-08-01.html').read_bytes())
    s = Settings(home=tmp_path/'home', data_dir=None)
    ix = Index(s, embedder=FakeEmbedder())
    r = ingest_files([d], settings=s, progress=False, index=ix)
    msgs = '\n'.join(r.errors)
    assert (r.files, r.files_failed, r.ok) == (1, 5, False), msgs
    for expect in ['cut-10-q.htm: the file ends before </html>: truncated', 'huge.htm: 60.0 MB is more than the 50 MB allowed',
                   'blog.html: not an SEC filing', 'report.pdf: not a filing, PDF, text or JSON file: it looks like a PNG image', 'empty.txt: the file is empty']:
        assert expect in msgs, msgs
    pages, chunks, facts = r.pages_added, r.chunks_added, fact_store(ix).count()
    assert pages == 12 and facts == 685 and chunks > 400
    again = ingest_files([d/'aapl-10-q.htm'], settings=s, progress=False, index=ix)
    assert (again.pages_unchanged, again.pages_added, again.pages_updated, again.chunks_added, again.ok) == (pages, 0, 0, 0, True)
    assert (ix.count(), fact_store(ix).count()) == (chunks, facts)


CHILD = """
import time
from pathlib import Path
from finrag.config import Settings
from finrag.files import ingest_files
from finrag.ingest import FakeEmbedder, Index
class Slow(FakeEmbedder):
    def embed(self, texts):
        time.sleep(1.0); return super().embed(texts)
s = Settings(home=Path({home!r}), data_dir=None)
ingest_files([Path(p) for p in {paths!r}], settings=s, progress=False, index=Index(s, embedder=Slow(), group_pages=2))
"""


def _committed(home: Path) -> int:
    "Pages in the manifest of the default collection right now (0 before the store exists)."
    db = Settings(home=home, data_dir=None).index_dir/'finrag'/'pages.sqlite'
    if not db.exists(): return 0
    try:
        with closing(sqlite3.connect(db, timeout=5)) as con: return con.execute('SELECT COUNT(*) FROM pages').fetchone()[0]
    except sqlite3.Error: return 0


def test_kill_9_mid_ingest_then_again_every_filing_once(filings, tmp_path):
    paths = [str(filings/'aapl-10-q-2025-08-01.html'), str(filings/'unp-10-q-2025-07-24.html')]
    child = subprocess.Popen([sys.executable, '-c', CHILD.format(home=str(tmp_path), paths=paths)])
    deadline = time.time() + 120
    while _committed(tmp_path) < 2 and time.time() < deadline and child.poll() is None: time.sleep(0.2)
    assert child.poll() is None, "the child finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL); child.wait()
    assert 2 <= _committed(tmp_path) < 24, "killed before anything or after everything was written"  # 12 + 12 section pages
    s = Settings(home=tmp_path, data_dir=None)
    ix = Index(s, embedder=FakeEmbedder())
    r = ingest_files([Path(p) for p in paths], settings=s, progress=False, index=ix)
    assert r.ok, r.errors
    want = [read_filing(Path(p).read_bytes(), p) for p in paths]
    assert sorted(ix.pages()) == sorted(pid for ds in want for pid in ds.pages)
    assert ix.count() == sum(len(chunk_page(p)) for ds in want for p in ds.pages.values())
    assert ix.collection.count() == ix.count()  # no vector left behind by the killed run
    assert fact_store(ix).count() == sum(len(ds.facts) for ds in want)


def test_folder_walk_skips_hidden_files(tmp_path):
    (tmp_path/'a.htm').write_text('x'); (tmp_path/'.DS_Store').write_text('x'); (tmp_path/'sub').mkdir(); (tmp_path/'sub'/'b.pdf').write_text('x')
    assert [p.name for p in document_paths([tmp_path])] == ['a.htm', 'b.pdf']


def test_cli_ingest_and_search_a_real_10q(filings, tmp_path):
    "End to end with the real embedding model: `finrag ingest` a 10-Q, then `finrag search` finds the row with its period header."
    repo = Path(__file__).resolve().parent.parent
    dev_models = Path(os.environ.get('FINRAG_HOME', repo/'.finrag'))/'models'
    if dev_models.is_dir(): (tmp_path/'models').symlink_to(dev_models)
    env = {**os.environ, 'FINRAG_HOME': str(tmp_path), 'HF_HUB_OFFLINE': '1', 'COLUMNS': '250'}
    cli = [str(Path(sys.executable).parent/'finrag')]
    r = subprocess.run(cli + ['ingest', str(filings/'aapl-10-q-2025-08-01.html')], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'ingested 1 file (12 pages: 12 added' in r.stdout and '685 facts stored' in r.stdout, r.stdout
    r = subprocess.run(cli + ['search', 'total net sales', '--company', 'aapl', '--k', '3'], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Total net sales | Three Months Ended June 28, 2025: $ 94,036' in r.stdout, r.stdout
    assert 'AAPL-10-Q-2025-06-28/part-i-item-' in r.stdout
