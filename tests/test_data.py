"Every record of every benchmark file loads; malformed inputs get clear errors."
import json
import pytest
from finrag.data import DataError, load, data_stats

FILES = {'finqa/dev_200.json': ('finqa', 200, 200), 'finqa/train_100.json': ('finqa', 100, 100),
         'convfinqa/convfinqa_dev_part1.json': ('convfinqa', 210, None), 'tatqa/tatqa_dataset_dev.json': ('tatqa', 278, 1668)}

@pytest.mark.parametrize('rel', FILES)
def test_every_record_loads(shared_data, rel):
    fmt, n_records, n_questions = FILES[rel]
    ds = load(shared_data/rel, strict=True)
    assert (ds.report.format, ds.report.records, ds.report.skipped) == (fmt, n_records, [])
    if n_questions: assert ds.report.questions == n_questions
    assert all(q.page_id in ds.pages for q in ds.questions)
    assert all(p.texts or p.tables for p in ds.pages.values())

def test_finqa_evidence_ids_point_inside_the_page(shared_data):
    ds = load(shared_data/'finqa/dev_200.json')
    for q in ds.questions:
        page = ds.pages[q.page_id]
        for ev in q.evidence:
            kind, i = ev.split('_'); i = int(i)
            assert i < (len(page.texts) if kind == 'text' else len(page.tables[0].rows) + 1), (q.id, ev)

def test_convfinqa_turns_and_gold(shared_data):
    ds = load(shared_data/'convfinqa/convfinqa_dev_part1.json')
    finals = [q for q in ds.questions if q.answer is not None]
    assert len(finals) == 210 and all(q.history for q in ds.questions if q.id.endswith('#1'))
    with_ev = sum(1 for q in finals if q.evidence)
    assert with_ev / len(finals) > 0.95, with_ev  # gold rows/sentences were matched back to ids

def test_tatqa_fields(shared_data):
    ds = load(shared_data/'tatqa/tatqa_dataset_dev.json')
    kinds = {q.answer_type for q in ds.questions}
    assert kinds == {'span', 'multi-span', 'arithmetic', 'count'}
    assert {q.scale for q in ds.questions} >= {'thousand', 'million', 'percent'}

def _bad(tmp_path, obj_or_text):
    f = tmp_path/'bad.json'
    f.write_text(obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text))
    return f

GOOD = {'id': 'X/2020/page_1.pdf-1', 'filename': 'X/2020/page_1.pdf', 'pre_text': ['a .'], 'post_text': [],
        'table': [['', '2020'], ['revenue', '1']], 'qa': {'question': 'q?', 'program': 'add(1, 2)', 'exe_ans': 3.0}}

def test_truncated_json_names_file_and_position(tmp_path):
    f = _bad(tmp_path, json.dumps([GOOD])[:-10])
    with pytest.raises(DataError, match=r'bad\.json: invalid JSON at line 1, column \d+'): load(f)

def test_wrong_width_row_names_record_and_field(tmp_path):
    bad = {**GOOD, 'id': 'X/2020/page_2.pdf-1', 'table': [['', '2020'], ['revenue', '1', '2']]}
    ds = load(_bad(tmp_path, [GOOD, bad]))
    assert ds.report.questions == 1 and len(ds.report.skipped) == 1
    assert "record X/2020/page_2.pdf-1, field 'table': row 1 has 3 cells, the header has 2" in ds.report.skipped[0]

@pytest.mark.parametrize('field', ['pre_text', 'table', 'qa'])
def test_missing_field(tmp_path, field):
    bad = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(DataError, match=f"field '{field}': missing"): load(_bad(tmp_path, [bad]), fmt='finqa', strict=True)

def test_wrong_types_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="expected a list of strings"):
        load(_bad(tmp_path, [{**GOOD, 'pre_text': [1, 2]}]), strict=True)
    with pytest.raises(DataError, match="cannot tell the format"): load(_bad(tmp_path, [{'x': 1}]))
    with pytest.raises(DataError, match="not UTF-8"):
        f = tmp_path/'bin.json'; f.write_bytes(b'\xff\xfe\x00['); load(f)

def test_convfinqa_mismatched_programs(tmp_path):
    rec = {'id': 'Single_X/2020/page_1.pdf-1', 'questions': ['a?', 'b?'], 'programs': ['ans = 1'], 'text': 'a .',
           'table': '- | 2020\nrev | 1', 'answer': 1}
    ds = load(_bad(tmp_path, [rec]))
    assert "2 questions but 1 programs" in ds.report.skipped[0]

def test_stats_reports_unreadable_files(tmp_path):
    reps = data_stats([_bad(tmp_path, '{'), tmp_path/'missing.json'])
    assert all(r.skipped for r in reps)
