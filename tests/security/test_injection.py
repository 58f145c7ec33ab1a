"""Injected filings, the deterministic part: text a browser would not show is never evidence, and every planted attack is
flagged while ordinary filing prose is not. What the attacks do to the model's answers is measured by `bench/bench_injection.py`."""
import json, os
import pytest
from finrag.config import Settings
from finrag.evidence import instruction_like
from finrag.filings import read_filing
from finrag.ingest import row_text
from injected import html_filings, pages


def _texts(record: dict) -> list[str]:
    return record['pre_text'] + record['post_text'] + [row_text(record['table'][0], r) for r in record['table'][1:]]


def test_fifty_attacked_pages_each_flagged():
    recs = pages()
    assert len(recs) == 50 and len({(r['attack']['kind'], r['attack']['place'], r['filename']) for r in recs}) == 50
    missed = [r['attack'] for r in recs if not any(instruction_like(t) for t in _texts(r))]
    assert not missed, missed


def test_ordinary_filing_prose_is_not_flagged():
    d = Settings().data_dir
    if d is None or not (d/'finqa'/'dev_200.json').is_file():
        if os.environ.get('CI'): pytest.fail("FinQA data not at $FINRAG_DATA_DIR")
        pytest.skip('FinQA data not available')
    texts = [t for f in ('dev_200', 'train_100') for r in json.loads((d/'finqa'/f'{f}.json').read_text())
             for t in r['pre_text'] + r['post_text'] + [' | '.join(map(str, row)) for row in r['table']]]
    flagged = [t[:120] for t in texts if instruction_like(t)]
    assert len(texts) > 8000 and not flagged, flagged


@pytest.mark.parametrize('name,data,planted', html_filings(), ids=lambda x: x if isinstance(x, str) and x.endswith('.htm') else '')
def test_hidden_text_is_never_evidence(name, data, planted):
    ds = read_filing(data, name)
    shown = ' '.join(t for p in ds.pages.values() for t in p.texts) + ' '.join(c for p in ds.pages.values() for tb in p.tables for r in tb.rows for c in r)
    assert 'Revenue' in shown and planted not in shown and 'ignore previous' not in shown.lower(), shown
