"""The conventions code applies to the model's expression, under both profiles.

For each rule: cases where it must fire, and the questions a real user asks where it must not (under `plain`, the
default). The agent runs end to end with a scripted model (named mode, the default) over a small table, so each case
checks the value, the display with its unit, and the flag that discloses the rewrite.
"""
import json
from types import SimpleNamespace as NS

import pytest

from finrag.agent import Agent
from finrag.config import Settings
from finrag.conventions import apply_conventions, cited_rules, name_rules
from finrag.evidence import make_items
from finrag.ground import lift_literals
from finrag.ingest import row_text
from finrag.llm import FakeLLM


def ev(id, ref, cells, header=('', '2011', '2010', '2009'), scale='millions', currency='USD'):
    header = list(header)
    return NS(chunk=NS(id=id, kind='row', ref=ref, text=row_text(header, cells), header=header, cells=list(cells),
                       scale=scale, currency=currency))


def sentence(id, ref, text):
    return NS(chunk=NS(id=id, kind='text', ref=ref, text=text, header=None, cells=None))


TABLE = [ev('d', 'table_1', ['total debt', '$ 2,000', '$ 2,450', '$ 2,600']),
         ev('s', 'table_2', ['sales', '9,120', '8,400', '7,900']),
         ev('o', 'table_3', ['operating expenses', '7,050', '6,900', '6,100']),
         ev('r', 'table_4', ['revenue', '5,210', '4,870', '4,402'])]


class Retriever:
    def __init__(self, evidence): self.evidence = evidence
    def retrieve(self, question, **kw): return self.evidence


def ask(question, values, expression, kind='number', profile='plain', evidence=TABLE):
    "The agent's answer to `question` when the model names `values` and writes `expression`."
    reply = json.dumps({'values': values, 'expression': expression, 'kind': kind})
    agent = Agent(Settings(_env_file=None, conventions=profile, evidence_k=8), retriever=Retriever(evidence), llm=FakeLLM([reply] * 3))
    ans = agent.ask(question)
    assert ans.failed_stage is None, (ans.failed_stage, ans.error)
    return ans


def rewrites(profile, expr, question, numbers=None):
    return apply_conventions(expr, name_rules(profile, question, numbers or {}))


# --- "by how much did X decrease": an amount to a user, a relative change to FinQA -----------------------------

DEBT_Q = 'by how much did total debt decrease from 2010 to 2011?'

def test_by_how_much_decrease_is_an_amount_under_plain():
    ans = ask(DEBT_Q, {'debt_2011': 2000, 'debt_2010': 2450}, 'debt_2011 - debt_2010')
    assert ans.value == pytest.approx(450.0) and ans.display == '$450 million' and ans.unit == 'USD'
    assert any('the question asks how much it fell' in f for f in ans.flags), ans.flags

def test_by_how_much_increase_is_a_relative_change_under_finqa():
    ans = ask('by how much did revenue increase from 2010 to 2011?', {'rev_2011': 5210, 'rev_2010': 4870}, 'rev_2011 - rev_2010', profile='finqa')
    assert ans.value == pytest.approx(340 / 4870) and ans.kind == 'percent'
    assert any('"by how much" asks how much relative' in f for f in ans.flags)

def test_by_how_much_increase_stays_an_amount_under_plain():
    ans = ask('by how much did revenue increase from 2010 to 2011?', {'rev_2011': 5210, 'rev_2010': 4870}, 'rev_2011 - rev_2010')
    assert ans.value == pytest.approx(340.0) and ans.display == '$340 million'


# --- a comparison "lower ... than": the direction words decide the order -------------------------------------

LOWER_Q = 'how much lower were operating expenses than sales in 2011?'

@pytest.mark.parametrize('expr', ['operating_expenses_2011 - sales_2011', 'sales_2011 - operating_expenses_2011'])
def test_lower_than_is_the_larger_minus_the_smaller_under_plain(expr):
    ans = ask(LOWER_Q, {'operating_expenses_2011': 7050, 'sales_2011': 9120}, expr)
    assert ans.value == pytest.approx(2070.0), ans.expression

def test_higher_than_keeps_its_order_under_plain():
    ans = ask('how much higher were sales than operating expenses in 2011?', {'sales_2011': 9120, 'operating_expenses_2011': 7050},
              'operating_expenses_2011 - sales_2011')
    assert ans.value == pytest.approx(2070.0)

def test_mention_order_is_finqas_habit_only():
    q, vals, expr = 'what is the difference between operating expenses and sales in 2011?', {'sales_2011': 9120, 'operating_expenses_2011': 7050}, 'sales_2011 - operating_expenses_2011'
    assert ask(q, vals, expr, profile='finqa').value == pytest.approx(-2070.0)  # FinQA: in the order the question names them
    assert ask(q, vals, expr).value == pytest.approx(2070.0)  # plain: the model's order, no direction words to read
    assert ask(LOWER_Q, vals, expr, profile='finqa').value == pytest.approx(-2070.0)  # FinQA's order flips a user's sign
    assert ask(LOWER_Q, vals, expr).value == pytest.approx(2070.0)


# --- a ratio of two years: the question's order of years is FinQA's habit ----------------------------------

RATIO_Q = 'what was the ratio of revenue from 2010 to 2011?'

def test_year_order_ratio_only_under_finqa():
    assert rewrites('finqa', 'rev_2011 / rev_2010', RATIO_Q)[0] == 'rev_2010 / rev_2011'
    assert rewrites('plain', 'rev_2011 / rev_2010', RATIO_Q) == ('rev_2011 / rev_2010', [])

def test_a_ratio_shows_as_times():
    ans = ask(RATIO_Q, {'rev_2011': 5210, 'rev_2010': 4870}, 'rev_2011 / rev_2010')
    assert ans.unit == 'ratio' and ans.display == '1.0698x'


# --- percentage changes: earlier to later, and a decrease under plain ---------------------------------------

PCT_DEC_Q = 'what was the percentage decrease in total debt from 2010 to 2011?'

def test_percentage_decrease_sign_by_profile():
    plain = ask(PCT_DEC_Q, {'debt_2011': 2000, 'debt_2010': 2450}, '(debt_2011 - debt_2010) / debt_2010 * 100')
    finqa = ask(PCT_DEC_Q, {'debt_2011': 2000, 'debt_2010': 2450}, '(debt_2011 - debt_2010) / debt_2010 * 100', profile='finqa')
    assert plain.value == pytest.approx(450 / 2450) and plain.display == '18.37%'  # a decrease of 18.37%
    assert finqa.value == pytest.approx(-450 / 2450) and finqa.display == '-18.37%'

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_relative_change_runs_from_the_earlier_year(profile):
    ans = ask('what was the percentage change in revenue from 2010 to 2011?', {'rev_2011': 5210, 'rev_2010': 4870},
              '(rev_2010 - rev_2011) / rev_2011', 'percent', profile)
    assert ans.value == pytest.approx(340 / 4870)
    assert any('the later year minus the earlier' in f for f in ans.flags)

def test_a_change_the_user_asks_for_is_later_minus_earlier_under_plain():
    ans = ask('what was the change in sales from 2010 to 2011?', {'sales_2010': 8400, 'sales_2011': 9120}, 'sales_2010 - sales_2011')
    assert ans.value == pytest.approx(720.0)

def test_a_plain_difference_of_two_rows_is_left_alone():
    assert rewrites('plain', 'sales_2011 - revenue_2011', 'what is sales minus revenue in 2011?') == ('sales_2011 - revenue_2011', [])


# --- the kind comes from the arithmetic, not from "margin" or "%" in the question --------------------------

MARGIN = [ev('g', 'table_1', ['gross margin', '$ 219,000', '$ 198,000', '$ 180,500'], scale=None)]

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_a_margin_in_dollars_is_shown_in_dollars(profile):
    ans = ask('what was the gross margin in 2011?', {'gross_margin_2011': 219000}, 'gross_margin_2011', 'percent', profile, MARGIN)
    assert ans.display == '$219,000' and ans.kind == 'number' and ans.unit == 'USD'
    assert 'shown as an amount in USD, not a percentage: the arithmetic yields USD' in ans.flags

def test_a_margin_as_a_ratio_is_a_percentage():
    ans = ask('what was the operating margin in 2011?', {'operating_expenses_2011': 7050, 'sales_2011': 9120},
              '(sales_2011 - operating_expenses_2011) / sales_2011')
    assert ans.display == '22.70%' and ans.unit == 'percent'
    assert 'shown as a percentage: the question asks for a percentage of a ratio' in ans.flags  # the model said number


# --- a year-like amount is an amount -------------------------------------------------------------------------

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_an_amount_between_1990_and_2039_is_not_a_year(profile):
    ans = ask('what was the change in total debt from 2010 to 2011?', {'debt_2011': 2000, 'debt_2010': 2450}, 'debt_2011 - debt_2010',
              profile=profile)
    assert ans.value == pytest.approx(-450.0) and not any('failed' in f for f in ans.flags), ans.flags
    assert [s.calls for s in ans.trace if s.stage == 'specify'] == [1]  # no retry

def test_a_year_written_as_a_number_is_still_refused():
    reply = json.dumps({'values': {'y': 2011, 'z': 2010}, 'expression': 'y - z', 'kind': 'number'})
    good = json.dumps({'values': {'rev_2011': 5210, 'rev_2010': 4870}, 'expression': 'rev_2011 - rev_2010', 'kind': 'number'})
    agent = Agent(Settings(_env_file=None, evidence_k=8), retriever=Retriever(TABLE), llm=FakeLLM([reply, good]))
    ans = agent.ask('what was the change in revenue from 2010 to 2011?')
    assert ans.value == pytest.approx(340.0) and ans.trace[1].calls == 2


# --- an index's return: only in a table whose rows are indices ---------------------------------------------

INDEX = [ev('a', 'table_1', ['acme corp', '$ 100.00', '$ 182.40'], header=('', '12/31/2006', '12/31/2011'), scale=None),
         ev('b', 'table_2', ['s&p 500 index', '$ 100.00', '$ 173.86'], header=('', '12/31/2006', '12/31/2011'), scale=None)]
MIX = [ev('m', 'table_1', ['total', '100%', '100%', '100%'], scale=None),
       ev('n', 'table_2', ['products', '62%', '58%', '55%'], scale=None)]

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_index_return_from_its_base(profile):
    ans = ask('what was the percentage cumulative total return for acme corp for the five years?', {'acme_2011': 182.40},
              '(acme_2011 - 100) / 182.40 * 100', 'percent', profile, INDEX)
    assert ans.value == pytest.approx(0.824) and ans.display == '82.40%'

def test_a_100_percent_mix_row_is_not_an_index():
    items = make_items(MIX)
    q = 'what percentage return of the total came from products in 2011?'
    expr, values, _ = lift_literals('62 / 100', q, items)
    assert apply_conventions(expr, cited_rules('plain', q, values, items)) == (expr, [])


# --- rules any analyst wants, in both profiles --------------------------------------------------------------

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_average_over_the_span_asked(profile):
    ans = ask('what was the average revenue from 2009 to 2011?', {'rev_2011': 5210, 'rev_2009': 4402}, 'average(rev_2011, rev_2009)',
              profile=profile)
    assert ans.value == pytest.approx((5210 + 4870 + 4402) / 3)
    assert any('every year from 2009 to 2011' in f for f in ans.flags)

@pytest.mark.parametrize('profile', ['plain', 'finqa'])
def test_one_unit_for_all_values(profile):
    evidence = [ev('p', 'table_1', ['total purchase price ( in thousands )', '$ 15,704'], header=('', '2011'), scale=None),
                sentence('g', 'text_1', 'goodwill was $ 3.4 million .')]
    ans = ask('what share of the purchase price was goodwill?', {'goodwill': 3.4, 'price': 15704}, 'goodwill / price', 'percent', profile, evidence)
    assert ans.value == pytest.approx(3400 / 15704)
    assert any('converted from millions to thousands' in f for f in ans.flags)


# --- disclosure: a cell read instead of the number the model wrote ------------------------------------------

def test_a_cell_read_instead_of_the_models_number_is_a_flag():
    ans = ask('what was the change in revenue from 2010 to 2011?', {'rev_2011': 5210, 'rev_2010': 4402}, 'rev_2011 - rev_2010')
    assert ans.value == pytest.approx(340.0)
    assert any(f.startswith('revenue_2010: named rev_2010 but written 4402, from the 2009 column') for f in ans.flags), ans.flags

def test_finqa_files_are_evaluated_under_finqa_unless_set():
    from finrag.data import load
    from finrag.eval import eval_settings
    import tempfile, pathlib
    path = pathlib.Path(tempfile.mkdtemp())/'toy.json'
    path.write_text(json.dumps([{'id': 'A/2020/page_1.pdf-1', 'filename': 'A/2020/page_1.pdf', 'pre_text': ['x'], 'post_text': [],
                                 'table': [['', '2020'], ['a', '1']], 'qa': {'question': 'what is a?', 'program': 'add(1, 0)', 'exe_ans': 1.0}}]))
    ds = load(path)
    assert eval_settings(Settings(_env_file=None), ds).conventions == 'finqa'
    assert eval_settings(Settings(_env_file=None, conventions='plain'), ds).conventions == 'plain'
