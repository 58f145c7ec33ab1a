"Ingestion under faults: kill -9 mid-run then re-run, and bad input that must fail per record."
import json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path
import pytest
from finrag.config import Settings
from finrag.data import Page, Table
from finrag.ingest import FakeEmbedder, Index, chunk_page
from finrag.files import ingest_files

N_PAGES = 40


def make_pages(n: int = N_PAGES) -> list[Page]:
    "`n` small FinQA-like pages with distinct content."
    return [Page(id=f"CO{i % 5}/{2010 + i % 7}/page_{i}.pdf", company=f"CO{i % 5}", year=2010 + i % 7,
                 texts=[f"revenue of segment {i} grew {i}% .", f"cash was $ {i * 10} million ."],
                 tables=[Table(header=['', '2019', '2018'], rows=[[f'item {i}', str(i), str(i + 1)], ['total', str(2 * i), str(2 * i + 1)]])])
            for i in range(n)]


def settings(home: Path) -> Settings:
    return Settings(home=home, data_dir=None, collection='faults')


CHILD = """
import importlib.util, time
from pathlib import Path
spec = importlib.util.spec_from_file_location('t', {here!r}); t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
make_pages, settings = t.make_pages, t.settings
from finrag.ingest import FakeEmbedder, Index
class Slow(FakeEmbedder):
    "A fake embedder slow enough to be killed mid-run."
    def embed(self, texts):
        time.sleep(0.15); return super().embed(texts)
Index(settings(Path({home!r})), embedder=Slow(), group_pages=2).add_pages(make_pages(), progress=False)
"""


def committed_pages(home: Path) -> int:
    "Pages in the manifest right now (0 if the store does not exist yet)."
    db = settings(home).index_dir / 'faults' / 'pages.sqlite'
    if not db.exists(): return 0
    try:
        with sqlite3.connect(db, timeout=5) as con: return con.execute('SELECT COUNT(*) FROM pages').fetchone()[0]
    except sqlite3.OperationalError: return 0


def test_kill_9_mid_ingest_then_rerun(tmp_path):
    child = subprocess.Popen([sys.executable, '-c', CHILD.format(here=str(Path(__file__).resolve()), home=str(tmp_path))])
    deadline = time.time() + 60
    while committed_pages(tmp_path) < 6 and time.time() < deadline and child.poll() is None: time.sleep(0.05)
    assert child.poll() is None, "the child finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL); child.wait()
    done = committed_pages(tmp_path)
    assert 0 < done < N_PAGES, done

    ix = Index(settings(tmp_path), embedder=FakeEmbedder())
    assert ix.bm25_stale()  # killed before BM25 was rebuilt
    report = ix.add_pages(make_pages(), progress=False)
    assert report.errors == [] and report.pages_unchanged == done and report.pages_added == N_PAGES - done

    expected = {c.id for p in make_pages() for c in chunk_page(p)}
    chroma_ids = ix.collection.get(include=[])['ids']
    assert len(chroma_ids) == len(set(chroma_ids)) == len(expected) and set(chroma_ids) == expected
    assert sorted(ix.pages()) == sorted(p.id for p in make_pages())
    assert ix.count() == len(expected) and sorted(ix.bm25.ids) == sorted(expected) and not ix.bm25_stale()
    again = ix.add_pages(make_pages(), progress=False)
    assert (again.pages_unchanged, again.chunks_added, ix.collection.count()) == (N_PAGES, 0, len(expected))


def finqa_record(i: int, **over) -> dict:
    rec = {'id': f"ACME/2020/page_{i}.pdf-1", 'filename': f"ACME/2020/page_{i}.pdf", 'pre_text': [f'revenue rose {i} .'], 'post_text': [],
           'table': [['', '2020', '2019'], ['revenue', str(i), '8']], 'qa': {'question': 'what was revenue?', 'exe_ans': 1.0}}
    return {**rec, **over}


def test_bad_records_fail_alone(tmp_path):
    records = [finqa_record(1),
               finqa_record(2, table='not a table'),  # malformed record: the loader reports it
               finqa_record(3, table=[]),  # empty table: the loader refuses it
               finqa_record(4, table=[['', '2020']]),  # a header and no rows: the ingester refuses it
               finqa_record(5, pre_text=['x' * 10_000_000]),  # a 10 MB page
               finqa_record(6), finqa_record(6)]  # the same page twice (FinQA repeats pages): kept once, no error
    f = tmp_path / 'bad.json'; f.write_text(json.dumps(records))
    s = settings(tmp_path)
    report = ingest_files([f], settings=s, progress=False, index=Index(s, embedder=FakeEmbedder()))
    assert (report.pages_added, len(report.errors)) == (2, 4), report.summary()
    text = '\n'.join(report.errors)
    assert "page_2.pdf-1, field 'table'" in text and "page_3.pdf-1, field 'table': expected a non-empty list" in text
    assert 'page_4.pdf: table 0 has no rows' in text and 'page_5.pdf: 10,000,' in text and 'split it into pages' in text
    assert '4 records failed' in report.summary()


def test_duplicate_ids_with_different_content(tmp_path):
    pages = make_pages(3)
    clash = pages[1].model_copy(update={'texts': ['something else .']})
    ix = Index(settings(tmp_path), embedder=FakeEmbedder())
    report = ix.add_pages([*pages, clash, {'id': 'BROKEN', 'tables': 'x'}], progress=False)
    assert report.pages_added == 3 and len(report.errors) == 2
    assert 'duplicate id with different content' in report.errors[0] and 'BROKEN: not a valid page' in report.errors[1]
    assert ix.get_page(pages[1].id) == pages[1]


def test_truncated_file_is_one_error(tmp_path):
    f = tmp_path / 'trunc.json'; f.write_text(json.dumps([finqa_record(1)])[:-20])
    s = settings(tmp_path)
    report = ingest_files([f], settings=s, progress=False, index=Index(s, embedder=FakeEmbedder()))
    assert report.pages_added == 0 and 'invalid JSON' in report.errors[0]


def test_real_model_smoke(tmp_path):
    "One ingest and query with the real (small) MiniLM model: vectors, Chroma and retrieval agree."
    pytest.importorskip('sentence_transformers')
    from finrag.models import ModelError
    from finrag.ingest import make_embedder
    from finrag.retrieve import Retriever
    s = Settings(home=tmp_path, data_dir=None, embed_model='all-MiniLM-L6-v2', collection='smoke')
    try: emb = make_embedder(s)
    except ModelError as e: pytest.skip(str(e))
    page = Page(id='ACME/2020/page_1.pdf', company='ACME', year=2020, texts=['the weather was mild .', 'pension obligations rose .'],
                tables=[Table(header=['', '2020', '2019'], rows=[['net revenue', '$ 120', '$ 100'], ['headcount', '50', '45']])])
    ix = Index(s, embedder=emb)
    assert ix.add_pages([page], progress=False).chunks_added == 5
    ev = Retriever(s, index=ix).retrieve('how much was net revenue in 2019?', page_id=page.id, k=2)
    assert ev[0].chunk.ref == 'table_1' and ev[0].scores['dense'] > 0.3
