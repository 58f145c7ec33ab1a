"""Adversarial and property tests for `finrag.sandbox`: the arithmetic sandbox and the FinQA program translator."""
import ast, builtins, json, math, os, re, warnings
from fractions import Fraction
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import finrag.sandbox as sb
from finrag.config import FinragError
from finrag.sandbox import (SandboxError, evaluate, expression_names, finqa_gold_failures, finqa_match, finqa_number,
                            finqa_row, finqa_to_expression, parse_expression, parse_finqa_program, run_finqa_program,
                            substitute)

NAMES = {'x': 3.0, 'y': -2.5, 'z': 0.0, 'revenue': 120.5, 'cost': 100}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def refused(expr, names=NAMES) -> SandboxError:
    "Assert `expr` is refused with a SandboxError (any other exception propagates and fails the test)."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        with pytest.raises(SandboxError) as info: evaluate(expr, names)
    assert not caught, [str(w.message) for w in caught]  # refused quietly: no SyntaxWarning from the parser
    assert isinstance(info.value, FinragError) and str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------------------------
# Known escapes of simpleeval / asteval / RestrictedPython, and everything else outside the grammar
# ---------------------------------------------------------------------------------------------------------------
ESCAPES = [
    # class-hierarchy walks
    "().__class__.__bases__[0].__subclasses__()", "(1).__class__", "(1).__class__.__mro__[1].__subclasses__()",
    "x.__class__", "x.real", "1 .real", "1..__class__", "abs.__self__", "max.__module__", "(1).__class__.__base__",
    "x.__class__.__init__.__globals__", "(abs)(1).__class__",
    # generator / frame tricks
    "(x for x in ()).gi_frame.f_back", "(x for x in ())", "(x for x in ()).gi_frame.f_globals",
    "[x for x in (1,)]", "{x for x in (1,)}", "{x: 1 for x in (1,)}", "sum(x for x in (1, 2))", "max(x for x in (1, 2))",
    # strings, format-string attacks, f-strings, bytes
    "'{0.__class__}'.format(1)", "'{0.__class__.__mro__}'.format(x)", "\"a\"", "'a'", "b'x'", "f'{1}'",
    "f'{().__class__}'", "f\"{x!r}\"", "'%s' % x", "u'x'", "r'x'",
    # imports, builtins, dangerous calls
    "__import__('os').system('id')", "__import__", "__builtins__", "__builtins__.open", "__builtins__['eval']",
    "__name__", "__loader__", "_x", "_", "__class__", "__spec__", "__debug__",
    "exec('1')", "eval('1')", "open('/etc/passwd')", "getattr(1, 'real')", "compile('1', '', 'eval')",
    "globals()", "locals()", "vars()", "dir()", "breakpoint()", "input()", "print(1)", "type(1)", "help()", "exit()",
    "setattr(x, 1, 1)", "delattr(x, 1)", "exec", "eval", "open", "getattr", "print", "type",
    # exceptions
    "Exception(1)", "ZeroDivisionError", "BaseException().args", "StopIteration().value", "Exception",
    # lambdas, walrus, conditional, starred, keywords
    "lambda: 1", "(lambda x: x)(1)", "lambda x: x.__class__", "(y := 1)", "(x := 1) + x", "1 if x else 2",
    "*x", "max(*x)", "max(1, *(2, 3))", "max(1, key=abs)", "round(x=1)", "round(1, ndigits=2)", "sum(**x)",
    # containers and subscripts
    "x[0]", "x[1:2]", "x[::-1]", "(1, 2)", "1, 2", "[1, 2]", "{1, 2}", "{1: 2}", "()", "[]", "{}", "max((1, 2))",
    # calling things that are not our functions
    "x(1)", "revenue(2)", "(1)(2)", "abs(1)(2)", "max(1, 2)(3)", "(x)(1)",
    # function names as values, arity
    "abs", "max + 1", "abs(1, 2)", "round(1, 2, 3)", "sum()", "max()", "average()", "round(1.5, 100)", "round(1, 0.5)",
    # literals that are not numbers
    "True", "False", "None", "...", "1j", "2 + 3j", "True + 1", "None + 1",
    # operators outside the grammar
    "1 // 2", "1 % 2", "1 @ 2", "1 << 2", "1 >> 2", "~1", "1 & 2", "1 | 2", "1 ^ 2", "1 is 1", "1 is not 2",
    "1 in (1,)", "1 not in (1,)", "not 1", "1 and 2", "(1 > 0) + 1", "abs(1 > 0)", "-(1 > 0)", "(1 > 0) > 0",
    "(1 > 0) * 2", "(x > 0) == (y > 0)", "not (1 > 0) > 0",
    # numbers glued to names (CPython only warns for keywords)
    "1if 1else 2", "0x1for x in y", "1or 2", "1and 2", "1 > 0and 2 > 1", "2x", "1.real", "1.__class__", "1e", "1_if", "x.1if 1else 2",
    # statements and other syntax
    "import os", "x = 1", "del x", "1; 2", "pass", "await x", "yield", "yield x", "async", "global x",
    "# comment", "1 # comment", "\\", "1 + \\\n 2", "1 +", "(1", "1)", ")(", "..", "1..2", "@", "$1", "?", "`1`",
    # huge powers and values
    "9**9**9", "10**1000", "2**1000000", "10 ** 16", "1e15 * 10", "(-8) ** 0.5", "0 ** -1", "10 ** -1000",
    "2 ** 101", "9999999999999999999999999", "1" * 400, "1e308", "1e308*10", "1e999", "-1e999",
    "1e15 * 1e15", "1e15 + 1e15", "1e15 * 2", "1 / 1e-300", "sum(1e15, 1e15, -1e15)",
    # division by zero
    "1/0", "1 / (2 - 2)", "x / z", "1 / (x - 3)", "0 / 0", "average(1) / 0", "1 / -0.0",
    # unknown names and names that look special
    "unknown_name", "revenue / costs", "os", "sys", "self", "cls", "builtins", "inf", "nan", "NaN", "Infinity",
    # non-ASCII: look-alike digits and identifiers (NFKC would turn some of these into real names)
    "\uff11 + 1", "\u0663", "\U0001d41e\U0001d431\U0001d41e\U0001d41c('1')", "\uff45\uff56\uff41\uff4c('1')",
    "x\u200b", "1 \u2212 2", "1 \u00d7 2", "\u00b2", "\u2155", "\u0661\u0662", "\u0430bs(1)", "\u00a01", "1\u2003+ 1",
    # control characters
    "\x00", "1\x00", "1 +\x0c 2", "1\x0b", "\x1b[31m1",
    # empty and whitespace
    "", " ", "\n\t", "\r\n",
]


@pytest.mark.parametrize('expr', ESCAPES)
def test_escapes_and_non_grammar_are_refused(expr):
    refused(expr)


@pytest.mark.parametrize('expr', [None, b'1+1', bytearray(b'1'), 1, 1.5, ['1'], {'1': 1}, object(), Decimal(1)])
def test_non_string_input_is_refused(expr):
    assert 'must be a string' in str(refused(expr))


@pytest.mark.parametrize('expr', ['(' * 1000 + '1' + ')' * 1000, '-' * 1000 + '1', '+' * 1999 + '1',
                                  'not ' * 450 + '1 > 0', '1' + ' + 1' * 499, '1' + '**1' * 600, 'abs(' * 400 + '1' + ')' * 400,
                                  '(' * 1000, ')' * 1000, '-(' * 600 + '1' + ')' * 600, '1 ' + '< 1 ' * 300])
def test_deep_nesting_is_a_sandbox_error_not_recursion(expr):
    refused(expr)


def test_long_input_is_refused_before_parsing():
    assert 'limit is 2000' in str(refused('1 + ' * 600 + '1'))
    assert 'limit is 2000' in str(refused('x' * 100_000))
    assert 'limit is 2000' in str(refused(' ' * 5000 + '1'))


def test_messages_are_specific():
    assert "division by zero in '1 / (2 - 2)'" in str(refused('1 / (2 - 2)'))
    msg = str(refused('revenue / costs'))
    assert "unknown name 'costs'" in msg and 'cost, revenue, x, y, z' in msg
    assert "unknown name 'a'; known names: none were given" in str(refused('a', {}))
    assert 'no keyword arguments' in str(refused('max(1, key=abs)'))
    assert 'only these functions can be called: abs, average, max, min, round, sum' in str(refused('eval(1)'))
    assert "may not start with '_'" in str(refused('__builtins__'))
    assert 'attribute access' in str(refused('(1).__class__'))
    assert 'subscripts' in str(refused('x[0]'))
    assert 'strings are not allowed' in str(refused("'{0.__class__}'.format(1)"))
    assert 'lambdas, slices and :=' in str(refused('lambda: 1'))
    assert 'comprehensions' in str(refused('(x for x in ())'))
    assert 'the limit is ±100' in str(refused('9**9**9'))
    assert 'beyond the limit of ±1e+15' in str(refused('10 ** 16'))
    assert 'nested more than 50' in str(refused('(' * 600 + '1' + ')' * 600))
    assert "the number '1' runs into 'if'" in str(refused('1if x else 2'))
    assert 'U+2212' in str(refused('1 \u2212 2'))
    assert 'empty' in str(refused('   '))
    assert 'tuples' in str(refused('1, 2'))
    assert 'needs numbers' in str(refused('(1 > 0) + 1'))


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -float('inf'), 1e16, 10 ** 400, True, '1', None, Decimal('1'), [1], 1j])
def test_bad_input_values_are_refused(value):
    refused('x + 1', {'x': value})


def test_names_must_be_a_mapping():
    refused('x', [('x', 1)])
    refused('x', 'x')


def test_unused_bad_names_are_ignored_and_other_real_types_work():
    assert evaluate('x + 1', {'x': 1, 'junk': 'not a number'}) == 2.0
    assert evaluate('x * 2', {'x': Fraction(1, 4)}) == 0.5


def test_never_compiles_code_or_calls_eval_exec():
    "`ast.parse` may call `compile` only with PyCF_ONLY_AST; eval/exec must never run."
    real_compile = builtins.compile
    def ast_only(src, filename, mode, flags=0, *a, **k):
        assert flags & ast.PyCF_ONLY_AST, 'compiled to a code object'
        return real_compile(src, filename, mode, flags, *a, **k)
    boom = mock.Mock(side_effect=AssertionError('eval/exec called'))
    with mock.patch('builtins.compile', ast_only), mock.patch('builtins.eval', boom), mock.patch('builtins.exec', boom):
        assert evaluate('max(x, 2) ** 2 / 4', NAMES) == 2.25
        for expr in ESCAPES[:40]:
            with pytest.raises(SandboxError): evaluate(expr, NAMES)
    boom.assert_not_called()


def test_module_source_has_no_eval_exec_compile():
    tree = ast.parse(Path(sb.__file__).read_text())
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {'eval', 'exec', 'compile', '__import__', 'getattr', 'setattr', 'open'}


# ---------------------------------------------------------------------------------------------------------------
# What is allowed
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('expr,expected', [
    ('1 + 2 * 3', 7.0), ('(1 + 2) * 3', 9.0), ('-2 ** 2', -4.0), ('(-2) ** 2', 4.0), ('2 ** -1', 0.5),
    ('2 ** 3 ** 2', 512.0), ('+x', 3.0), ('--x', 3.0), ('7 / 2', 3.5), ('1_000 + 0x10', 1016.0), ('.5 + 1.', 1.5),
    ('1e3', 1000.0), ('(revenue - cost) / cost', 0.205), ('abs(y)', 2.5), ('min(x, y, 0)', -2.5),
    ('max(1, x)', 3.0), ('sum(1, 2, 3.5)', 6.5), ('average(1, 2, 6)', 3.0), ('average(x)', 3.0),
    ('round(2.675, 2)', 2.67), ('round(2.5)', 2.0), ('round(1234.5, -2)', 1200.0), ('8 ** (1 / 3)', 2.0),
    ('1.05 ** 30', 1.05 ** 30), ('1e15', 1e15), ('-1e15', -1e15), ('10 ** 15', 1e15), ('0 ** 0', 1.0),
    ('x > y', True), ('x < y', False), ('x >= 3', True), ('x <= 2.9', False), ('x == 3', True), ('x != 3', False),
    ('1 < 2 < 3', True), ('1 < 3 < 2', False), ('x > 0 and y < 0', True), ('x > 5 or y > 5', False),
    ('not x > 5', True), ('1 > 2 and 1 / 0 > 1', False), ('1 < 2 or 1 / 0 > 1', True),
    ('\n(1 +\n 2)\t* 3  ', 9.0),
])
def test_allowed_grammar(expr, expected):
    got = evaluate(expr, NAMES)
    assert got == expected and type(got) is type(expected)


def test_limits_are_documented_constants():
    assert (sb.MAX_CHARS, sb.MAX_NODES, sb.MAX_DEPTH, sb.MAX_EXPONENT, sb.MAX_MAGNITUDE, sb.MAX_ROUND_DIGITS) == (2000, 200, 50, 100, 1e15, 15)
    evaluate('max(' + ', '.join(['1'] * 198) + ')')  # 200 nodes: the call, its name and 198 numbers
    refused('max(' + ', '.join(['1'] * 199) + ')')
    evaluate('(' * 50 + '1' + ')' * 50)
    evaluate('-' * 49 + '1')
    refused('-' * 50 + '1')
    assert evaluate('1 ** 100') == 1.0 and evaluate('2 ** -100') == 2.0 ** -100
    refused('1 ** 100.5')
    refused('1 ** -101')


def test_parse_expression_returns_a_validated_tree():
    tree = parse_expression('(a - b) / b > 0.1')
    assert isinstance(tree, ast.Expression) and isinstance(tree.body, ast.Compare)
    with pytest.raises(SandboxError): parse_expression('a.b')


# ---------------------------------------------------------------------------------------------------------------
# substitute and expression_names
# ---------------------------------------------------------------------------------------------------------------
def test_expression_names_in_order_of_first_appearance():
    assert expression_names('(rev_2019 - rev_2018) / rev_2018') == ['rev_2019', 'rev_2018']
    assert expression_names('max(b, a) + abs(c) * b - round(a, 2)') == ['b', 'a', 'c']
    assert expression_names('1 + 2') == []
    assert expression_names(' a\n+ b ') == ['a', 'b']
    with pytest.raises(SandboxError): expression_names('a.__class__')
    with pytest.raises(SandboxError): expression_names('__x + 1')


def test_substitute():
    assert substitute('(new - old) / old', {'new': 120.5, 'old': 100.0}) == '(120.5 - 100) / 100'
    assert substitute('x ** 2 - -y', {'x': -3, 'y': -1e-05}) == '(-3) ** 2 - -(-1e-05)'
    assert substitute('max(a, b)', {'a': 1, 'b': 2, 'c': 'unused'}) == 'max(1, 2)'
    assert substitute('a  +\n b', {'a': 1, 'b': 2}) == '1 + 2'  # whitespace runs collapse to one space
    assert substitute('1 + 2', {}) == '1 + 2'
    assert substitute('x / 3', {'x': 1 / 3}) == '0.3333333333333333 / 3'
    assert substitute('x', {'x': 123456789012345.0}) == '123456789012345'
    assert substitute('abc + ab', {'abc': 1, 'ab': 22}) == '1 + 22'
    with pytest.raises(SandboxError, match="unknown name 'b'"): substitute('a + b', {'a': 1})
    with pytest.raises(SandboxError, match='not a finite number'): substitute('a', {'a': float('inf')})
    with pytest.raises(SandboxError): substitute('a.real', {'a': 1})


# ---------------------------------------------------------------------------------------------------------------
# Property-based fuzzing
# ---------------------------------------------------------------------------------------------------------------
TOKENS = ['(', ')', '.', ',', '1', '0', '9', '1e308', '**', '*', '/', '+', '-', '<', '>', '==', '=', '!', ':=', ':',
          'x', 'y', 'z', 'abs', 'max', 'sum', 'round', 'average', '__class__', '__import__', '__builtins__', 'lambda',
          'for', 'in', 'if', 'else', 'not', 'and', 'or', 'is', '[', ']', '{', '}', "'", '"', 'f"', '#', '\\', ';',
          'j', '_', 'True', 'None', 'exec', 'eval', 'open', 'gi_frame', 'format', '%', '@', '~', '\n', ' ', '\u2212']


def _outcome(expr):
    "Evaluate fuzz input: a float or bool within limits, or a SandboxError; never another exception or a warning."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try: got = evaluate(expr, NAMES)
        except SandboxError: got = None
    assert not caught, [str(w.message) for w in caught]
    if got is None: return
    assert type(got) in (float, bool)
    if type(got) is float: assert math.isfinite(got) and abs(got) <= 1e15


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_any_text_only_raises_sandbox_error(expr):
    _outcome(expr)


@FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120))
def test_fuzz_printable_ascii_only_raises_sandbox_error(expr):
    _outcome(expr)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40), st.sampled_from(['', ' ']))
def test_fuzz_token_soup_only_raises_sandbox_error(tokens, sep):
    _outcome(sep.join(tokens))


class Refused(Exception): "The reference evaluator's division by zero or limit."


def _ok(v):
    if not math.isfinite(v) or abs(v) > 1e15: raise Refused
    return v


def reference(t, env):
    "Evaluate a generated tree by walking it, mirroring the sandbox's documented semantics (no eval)."
    kind = t[0]
    if kind == 'num': return t[1]
    if kind == 'name': return env[t[1]]
    if kind == 'neg': return -reference(t[1], env)
    if kind == 'pow': return _ok(reference(t[1], env) ** float(t[2]))
    if kind == 'abs': return abs(reference(t[1], env))
    if kind == 'round': return float(round(reference(t[1], env), t[2]))
    if kind in ('min', 'max'): return (min if kind == 'min' else max)(reference(k, env) for k in t[1])
    if kind in ('sum', 'average'):
        vals, total = [reference(k, env) for k in t[1]], 0.0
        for v in vals: total = _ok(total + v)
        return total if kind == 'sum' else total / len(vals)
    a, b = reference(t[1], env), reference(t[2], env)
    if kind == '/' and b == 0: raise Refused
    return _ok({'+': a + b, '-': a - b, '*': a * b} [kind] if kind != '/' else a / b)


def render(t):
    kind = t[0]
    if kind == 'num': return repr(t[1])
    if kind == 'name': return t[1]
    if kind == 'neg': return f"-({render(t[1])})"
    if kind == 'pow': return f"({render(t[1])}) ** {t[2]}"
    if kind == 'abs': return f"abs({render(t[1])})"
    if kind == 'round': return f"round({render(t[1])}, {t[2]})"
    if kind in ('min', 'max', 'sum', 'average'): return f"{kind}({', '.join(map(render, t[1]))})"
    return f"({render(t[1])} {kind} {render(t[2])})"


def size(t, depth=1):
    "(expression nodes, depth) an upper bound of what the sandbox counts."
    kids = [k for k in t[1:] if isinstance(k, tuple)]
    for k in t[1:]:
        if isinstance(k, list): kids.extend(k)
    sub = [size(k, depth + 1) for k in kids]
    return 3 + sum(n for n, _ in sub), max([depth + 1] + [d for _, d in sub])


leaves = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0, 0.5, 0.1, 1.25, 7.0, 12.0, 100.0, 1e5]).map(lambda v: ('num', v)),
                   st.integers(0, 50).map(lambda v: ('num', float(v))), st.sampled_from(['x', 'y', 'z', 'revenue']).map(lambda n: ('name', n)))
trees = st.recursive(leaves, lambda kids: st.one_of(
    st.tuples(st.sampled_from(['+', '-', '*', '/']), kids, kids),
    st.tuples(st.just('neg'), kids), st.tuples(st.just('abs'), kids),
    st.tuples(st.just('pow'), kids, st.integers(0, 3)), st.tuples(st.just('round'), kids, st.integers(0, 3)),
    st.tuples(st.sampled_from(['min', 'max', 'sum', 'average']), st.lists(kids, min_size=1, max_size=4))), max_leaves=16)
ENV = {'x': 3.0, 'y': -2.5, 'z': 0.0, 'revenue': 120.5}


@FUZZ
@given(trees)
def test_fuzz_generated_arithmetic_matches_reference(t):
    nodes, depth = size(t)
    assume(nodes <= 200 and depth <= 50)
    src = render(t)
    try: want = reference(t, ENV)
    except Refused:
        with pytest.raises(SandboxError): evaluate(src, ENV)
        return
    got = evaluate(src, ENV)
    assert type(got) is float and got == want, (src, got, want)
    shown = substitute(src, ENV)
    assert evaluate(shown) == got, (src, shown)
    assert expression_names(src) == list(dict.fromkeys(re.findall(r'\b(x|y|z|revenue)\b', src)))


@FUZZ
@given(trees, trees, st.sampled_from(['>', '<', '>=', '<=', '==', '!=']))
def test_fuzz_generated_comparisons(a, b, op):
    assume(max(size(a)[0], size(b)[0]) <= 90 and max(size(a)[1], size(b)[1]) <= 45)
    try: x, y = reference(a, ENV), reference(b, ENV)
    except Refused:
        with pytest.raises(SandboxError): evaluate(f"{render(a)} {op} {render(b)}", ENV)
        return
    want = {'>': x > y, '<': x < y, '>=': x >= y, '<=': x <= y, '==': x == y, '!=': x != y}[op]
    assert evaluate(f"{render(a)} {op} {render(b)}", ENV) is want


# ---------------------------------------------------------------------------------------------------------------
# FinQA programs
# ---------------------------------------------------------------------------------------------------------------
TABLE = [['', '2019', '2018', '2017'], ['net sales', '$ 17,769', '$ 15570', '$ 14920'],
         ['margin', '11.4% ( 11.4 % )', '7.8% ( 7.8 % )', '-7.4%'], ['hedges', '$ 1936', '$ -8683 ( 8683 )', '$ -2383 ( 2383 )'],
         ['dup', '1', '2', '3'], ['dup', '10', '20', '30'], ['bad', '( 12 )', '3', '4'], ['words', 'n/a', '1', '2']]


@pytest.mark.parametrize('text,value', [('5829', 5829.0), ('1,234.5', 1234.5), ('6.9%', 0.069), ('62%', 0.62),
                                        ('const_100', 100.0), ('const_1000000', 1e6), ('const_m1', -1.0), ('-3', -3.0),
                                        ('const_1', 1.0), ('0.5', 0.5), (' 7 ', 7.0)])
def test_finqa_number(text, value):
    assert finqa_number(text) == value


@pytest.mark.parametrize('text', ['none', 'nan', 'inf', '-inf', 'const_x', '', 'abc%', '#0', 'total revenue'])
def test_finqa_number_refuses(text):
    with pytest.raises(SandboxError): finqa_number(text)


def test_finqa_row():
    assert finqa_row(['$ 20147', '27.5% ( 27.5 % )', '$ -8683 ( 8683 )', '1,053,027']) == [20147.0, 0.275, -8683.0, 1053027.0]
    with pytest.raises(SandboxError, match=r"cell '\( 12 \)'"): finqa_row(['( 12 )'])


@pytest.mark.parametrize('program,expected', [
    ('subtract(5829, 5735), divide(#0, 5735)', 0.01639), ('divide(114400, 329500)', 0.34719),
    ('divide(6.9%, const_100), add(const_1, #0), exp(#1, 10), multiply(4273.1, #2)', 4302.67611),
    ('greater(14, 19)', 'no'), ('greater(284, 197)', 'yes'),
    ('subtract(17.84, 4.11), subtract(60.15, 41.30), greater(#0, #1)', 'no'),
    ('multiply(5, const_m1)', -5.0), ('add(1,234, 1)', 1235.0), ('add(1, 2),divide(#0,4)', 0.75),
    ('table_sum(net sales, none)', 48259.0), ('table_average(net sales, none)', 16086.33333),
    ('table_max(margin, none)', 0.114), ('table_min(margin, none)', -0.074), ('table_min(hedges, none)', -8683.0),
    ('table_average(margin, none), table_max(margin, none), subtract(#1, #0)', 0.07467),
    ('table_sum(dup, none)', 60.0), ('add(1, 2), add(#0, #0), add(#1, #1)', 12.0), ('subtract(1, 2) EOF', -1.0),
])
def test_run_finqa_program(program, expected):
    got = run_finqa_program(program, TABLE)
    assert got == expected and finqa_match(got, expected)


@pytest.mark.parametrize('program', [
    '', '   ', None, 'modulo(5, 2)', 'add(1, 2, 3)', 'add(1)', 'add(1, 2', 'add 1, 2', 'add(#1, 2)', 'add(#0, 2)',
    'add(1, 2), add(#1, 2)', 'add(1, 2), add(#x, 2)', 'divide(1, 0)', 'divide(1, 0), add(1, 2)', 'add(none, 2)',
    'greater(2, 1), add(#0, 1)', 'table_sum(cost, none)', 'table_sum(bad, none)', 'table_sum(words, none)',
    'exp(10, 101)', 'exp(10, 16)', 'multiply(100000000, 100000000)', 'add(__import__, 1)', 'add(1, 2); add(3, 4)',
    'add(1, 2)) , add(3, 4)', 'table_max(#0, none)', 'add(1, 2), ' * 400 + 'add(1, 2)',
    'add(1, 2), add(#0, #0), add(#1, #1), add(#2, #2), add(#3, #3), add(#4, #4), add(#5, #5), add(#6, #6)',
])
def test_run_finqa_program_refuses(program):
    with pytest.raises(SandboxError): run_finqa_program(program, TABLE)


def test_finqa_table_ops_need_a_table():
    with pytest.raises(SandboxError, match='no table was given'): run_finqa_program('table_sum(net sales, none)')


def test_finqa_to_expression():
    assert finqa_to_expression('subtract(5829, 5735), divide(#0, 5735)') == '(5829 - 5735) / 5735'
    assert finqa_to_expression('table_min(margin, none), multiply(#0, const_m1)', TABLE) == '(min(0.114, 0.078, (-0.07400000000000001))) * (-1)'  # -7.4 / 100, as FinQA computes it
    assert parse_finqa_program('table_max(net sales, none)') == [('table_max', ['net sales', 'none'])]


def test_finqa_match():
    assert finqa_match(0.0163905841, 0.01639) and finqa_match(0.01639, 0.01639) and finqa_match(94, 94.0)
    assert finqa_match(True, 'yes') and finqa_match(False, 'no') and finqa_match('Yes', 'yes')
    assert not finqa_match(0.016396, 0.01639) and not finqa_match('yes', 1.0) and not finqa_match(1.0, 'yes')
    assert not finqa_match(float('nan'), 0.0) and not finqa_match(None, 0.0) and not finqa_match('0.5', 0.5)


def finqa_dir() -> Path:
    path = Path(os.environ.get('FINRAG_DATA_DIR', '/work/shared/data'))/'finqa'
    if not path.is_dir():
        msg = f"FinQA data not found at {path}: set FINRAG_DATA_DIR to the folder holding finqa/dev_200.json"
        if os.environ.get('CI'): pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.mark.parametrize('name', ['dev_200.json', 'train_100.json'])
def test_gold_programs_reproduce_exe_ans(name):
    path = finqa_dir()/name
    if not path.exists():
        if os.environ.get('CI'): pytest.fail(f"{path} is missing")
        pytest.skip(f"{path} is missing")
    records = json.loads(path.read_text())
    assert records, f"{path} holds no records"
    failures = finqa_gold_failures(records)
    assert failures == [], f"{len(records) - len(failures)} of {len(records)} gold programs reproduce; failures: {failures[:10]}"
