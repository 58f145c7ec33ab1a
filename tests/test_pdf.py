"The PDF route: a real filing printed to PDF by headless chromium, read back, compared with the HTML's tables, ingested."
import os, shutil, subprocess
from pathlib import Path
import pytest
from finrag.config import Settings
from finrag.filings import read_filing
from finrag.files import ingest_files
from finrag.ingest import FakeEmbedder, Index
from finrag.pdf import compare_tables, read_pdf
from test_filings import filings  # noqa: F401  (the fixture)

NAME = 'aapl-10-q-2025-08-01.html'


def chromium() -> str:
    exe = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if exe is None:
        if os.environ.get('CI'): pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not available")
    return exe


@pytest.fixture(scope='module')
def pdf_path(filings, tmp_path_factory) -> Path:
    "The AAPL 10-Q printed to PDF (US letter, no browser header or footer)."
    out = tmp_path_factory.mktemp('pdf')/'aapl-10-q.pdf'
    subprocess.run([chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-pdf-header-footer', f'--print-to-pdf={out}',
                    (filings/NAME).as_uri()], check=True, capture_output=True, timeout=180)
    assert out.stat().st_size > 100_000
    return out


def test_pdf_tables_match_the_html(filings, pdf_path):
    pdf = read_pdf(pdf_path.read_bytes(), pdf_path.name)
    meta = next(iter(pdf.pages.values())).filing
    assert (meta.ticker, meta.form, meta.period_end) == ('AAPL', '10-Q', '2025-06-28')  # from the printed cover, no XBRL
    assert any('Item 2.' in (p.section or '') for p in pdf.pages.values())
    tagged, found = compare_tables(read_filing((filings/NAME).read_bytes(), NAME), pdf)
    assert tagged > 500 and found / tagged >= 0.9, (tagged, found)
    ops = next(t for p in pdf.pages.values() for t in p.tables if any(r[0] == 'Net sales: Total net sales' for r in t.rows))
    assert ops.header[1] == 'Three Months Ended June 28, 2025' and ops.scale == 'millions'


def test_pdf_ingests_beside_the_html(filings, pdf_path, tmp_path):
    s = Settings(home=tmp_path, data_dir=None)
    ix = Index(s, embedder=FakeEmbedder())
    r = ingest_files([filings/NAME, pdf_path], settings=s, progress=False, index=ix)
    assert r.ok and r.files == 2, r.errors
    pdf_pages = [p for p in ix.pages() if '/pdf/' in p]
    assert pdf_pages and len(pdf_pages) < len(ix.pages())  # its own pages: the HTML's are not overwritten


def test_damaged_and_scanned_pdfs_are_refused(pdf_path, tmp_path):
    data = pdf_path.read_bytes()
    with pytest.raises(Exception, match='cannot read this PDF'): read_pdf(data[:len(data) // 3], 'cut.pdf')
    blank = tmp_path/'blank.html'; blank.write_text('<html><body><svg width="400" height="400"><rect width="300" height="300"/></svg></body></html>')
    out = tmp_path/'scan.pdf'
    subprocess.run([chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-pdf-header-footer', f'--print-to-pdf={out}', blank.as_uri()],
                   check=True, capture_output=True, timeout=120)
    with pytest.raises(Exception, match='no text layer'): read_pdf(out.read_bytes(), 'scan.pdf')


def test_encrypted_pdf_is_refused(pdf_path, tmp_path):
    from pypdf import PdfReader, PdfWriter
    w = PdfWriter(); w.append(PdfReader(pdf_path), pages=(0, 2))
    w.encrypt(user_password='secret', owner_password='owner')
    out = tmp_path/'locked.pdf'
    with open(out, 'wb') as f: w.write(f)
    with pytest.raises(Exception, match='encrypted: save it without a password'): read_pdf(out.read_bytes(), 'locked.pdf')
