"Open questions over real filings: the scope (company, period, filing) is resolved before retrieval, facts lead the evidence, and what the filings do not hold is declined."
import json, os
from pathlib import Path
import pytest
from finrag.agent import Agent
from finrag.answer import format_answer
from finrag.config import Settings
from finrag.evidence import render_items
from finrag.files import fact_store, ingest_files
from finrag.llm import FakeLLM
from finrag.retrieve import Retriever

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def settings(tmp_path_factory) -> Settings:
    "AAPL's 10-Q and NFLX's 10-K ingested with the small real embedding model into a fresh home."
    d = Settings().data_dir
    f = d.parent/'filings' if d else None
    if f is None or not (f/'aapl-10-q-2025-08-01.html').is_file():
        if os.environ.get('CI'): pytest.fail("the real filings are not at $FINRAG_DATA_DIR/../filings")
        pytest.skip("real filings not available")
    home = tmp_path_factory.mktemp('home')
    (home/'models').symlink_to(Path(os.environ.get('FINRAG_HOME', REPO/'.finrag'))/'models')
    s = Settings(_env_file=None, home=home, embed_model='all-MiniLM-L6-v2', agent_mode='named', data_dir=d)
    rep = ingest_files([f/'aapl-10-q-2025-08-01.html', f/'nflx-10-k-2025-01-27.html'], settings=s, progress=False)
    assert rep.files_failed == 0 and rep.facts > 1000, rep
    return s


def ask(settings, question, responses=()):
    llm = FakeLLM(list(responses) or ['{}'])
    return Agent(settings, retriever=Retriever(settings), llm=llm).ask(question), llm


def named(values, expr, kind='number'): return json.dumps({'values': values, 'expression': expr, 'kind': kind})


def test_the_index_knows_its_filings(settings):
    ids = [f.id for f in fact_store(settings).filings()]
    assert ids == ['AAPL-10-Q-2025-06-28', 'NFLX-10-K-2024-12-31'], ids


def test_a_scoped_question_gets_its_filing_and_the_fact_row(settings):
    a, llm = ask(settings, "What were Apple's total net sales for the three months ended June 28, 2025?",
                 [named({'total_net_sales_q3_2025': 94036}, 'total_net_sales_q3_2025')])
    assert a.declined is None and a.failed_stage is None, (a.declined, a.error)
    assert a.scope and a.scope.startswith('AAPL 10-Q Q3 FY2025'), a.scope
    row = next((it for it in a.evidence if it.row_label == 'Total net sales' and '94,036' in it.text), None)
    assert row is not None, [it.text[:80] for it in a.evidence]  # the fact's row, found by its label and period
    assert all(it.filing == 'AAPL-10-Q-2025-06-28' for it in a.evidence)
    assert a.value == 94036 and a.base_value == pytest.approx(94.036e9) and a.display == '$94,036 million', (a.value, a.display)
    (v,) = a.values
    assert (v.filing, v.concept) == ('AAPL-10-Q-2025-06-28', 'us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax') and v.fact_id, v
    assert 'AAPL 10-Q 2025-06-28' in format_answer(a) and f'[XBRL {v.fact_id} us-gaap:RevenueFromContract' in format_answer(a)


def test_a_period_no_filing_covers_is_declined_without_calling_the_model(settings):
    a, llm = ask(settings, "What were Netflix's revenues in 2019?")
    assert a.declined and a.declined.startswith('not found in the ingested filings'), a.declined
    assert 'NFLX' in a.declined and a.value is None and a.failed_stage is None and not llm.calls


def test_no_company_named_among_several_asks_which(settings):
    a, llm = ask(settings, "What was total revenue in 2024?")
    assert a.declined and a.declined.startswith('which company?') and 'AAPL' in a.declined and 'NFLX' in a.declined, a.declined
    assert not llm.calls


def test_two_companies_each_from_its_own_filing(settings):
    a, llm = ask(settings, "How much larger was Apple's net income in the third quarter of fiscal 2025 than Netflix's net income in 2024?",
                 [named({'x': 1}, 'x')])
    filings = {it.filing for it in a.evidence}
    assert filings == {'AAPL-10-Q-2025-06-28', 'NFLX-10-K-2024-12-31'}, filings
    prompt = llm.calls[0]['messages'][1]['content']
    assert '(AAPL 10-Q 2025-06-28)' in prompt and '(NFLX 10-K 2024-12-31)' in prompt
    assert render_items(a.evidence) in prompt


def test_a_follow_up_keeps_the_company_and_asks_for_its_own_period(settings):
    agent = Agent(settings, retriever=Retriever(settings), llm=FakeLLM([named({'x': 1}, 'x')] * 4))
    first = agent.ask("What was Netflix's net income in 2024?", conversation_id='c1')
    assert first.scope.startswith('NFLX 10-K'), first.scope
    again = agent.ask('And in 2023?', conversation_id='c1')  # no company named: the conversation's
    assert again.declined is None and again.scope.startswith('NFLX 10-K'), (again.declined, again.scope)
    assert 'a follow-up: retrieved with the earlier question(s) of the conversation' in again.flags
    assert any('Net income' in it.text for it in again.evidence), [it.text[:60] for it in again.evidence]
    alone = Agent(settings, retriever=Retriever(settings), llm=FakeLLM(['{}'])).ask('And in 2023?')
    assert alone.declined and alone.declined.startswith('which company?')  # without the conversation it names none


def test_a_measure_the_filings_never_mention_is_declined_without_the_model(settings):
    a, llm = ask(settings, "What was Netflix's average monthly churn rate in 2024?")
    assert a.declined == 'not found in the ingested filings: NFLX-10-K-2024-12-31 never mention churn', a.declined
    assert a.value is None and not llm.calls
    a, llm = ask(settings, "How many paid memberships did Netflix have at the end of 2024?", [named({'x': 1}, 'x')])
    assert not (a.declined or '').endswith('never mention memberships') and llm.calls  # a measure it reports goes to the model
