"""A grammar of hostile expressions for the sandbox: deep nesting, huge exponents and literals, unicode and dunder
names, attribute and subscript chains, every Python expression node type, and raw noise. `cases(n, seed)` yields
`(kind, text)`; `run(cases)` evaluates each in the sandbox and sorts the outcomes.

An outcome is an *escape* when the evaluation raised an audit event that arithmetic never needs (import, exec, open,
os, subprocess, attribute access to code objects...), *uncaught* when it raised anything but `SandboxError`, *odd* when
it returned something other than a finite number or a bool, and *slow* when one case took longer than `SLOW_S`.
"""
from __future__ import annotations
import math, random, sys, time
from collections import Counter

SLOW_S = 0.5
NAMES = {'a': 3.0, 'b': -2.5, 'rev_2024': 391035.0, 'x': 0.0, 'big': 9.9e14}
DUNDERS = ['__import__', '__class__', '__builtins__', '__globals__', '__subclasses__', '__code__', '__dict__', '__mro__',
           'eval', 'exec', 'open', 'compile', 'getattr', 'globals', 'locals', 'vars', 'breakpoint', 'input', 'os', 'sys']
UNICODE = ['ℌ', '𝓍', 'é', 'ａ', 'rev\u200b2024', 'ａｂｓ', '\u0430', '٣', '１２', '²', 'ǅ', 'ﬁ']
FUNCS = ['abs', 'round', 'min', 'max', 'sum', 'average', 'pow', 'divmod', 'len', 'int', 'float', 'print', 'type']
BINOPS = ['+', '-', '*', '/', '**', '//', '%', '@', '&', '|', '^', '<<', '>>']
CMPS = ['<', '>', '<=', '>=', '==', '!=', ' is ', ' in ', ' not in ', ' is not ']
# every expression-level node type Python has, as a template over a sub-expression {e}
NODES = ['lambda: {e}', '[{e} for _ in (1,)]', '{{{e} for _ in (1,)}}', '{{{e}: 1}}', '({e} for _ in (1,))', '[{e}]', '({e},)',
         '{{{e}}}', '{e}[0]', '{e}[1:2]', '{e}.real', '(y := {e})', 'f"{{{e}}}"', "'s'", "b'x'", '...', 'not {e}',
         '{e} and {e}', '{e} or {e}', '(yield from {e})', '{e} if {e} else {e}', '*{e}', 'await {e}', '(yield {e})', '~{e}', '{e}({e})',
         'a.__class__.__bases__[0].__subclasses__()', '().__class__.__base__', "__import__('os').system('true')",
         "open('/etc/passwd').read()", 'globals()', '(lambda: 1).__code__', '{e}.__dict__', 'type({e})']


def _num(r: random.Random) -> str:
    return r.choice(['0', '1', '-1', '2', '0.5', '1e308', '1e-308', '9' * r.randint(16, 400), '1_000', '0x1F', '0b101', '1j',
                     '1e999', '.5', '5.', '00012', f"{r.uniform(-1e6, 1e6):.3f}", '10**10**10', '2**1000', 'nan', 'inf'])


def _atom(r: random.Random) -> str:
    k = r.random()
    if k < 0.35: return _num(r)
    if k < 0.6: return r.choice(list(NAMES) + ['unknown_name'])
    if k < 0.75: return r.choice(DUNDERS)
    if k < 0.85: return r.choice(UNICODE)
    return f"{r.choice(FUNCS)}({', '.join(_num(r) for _ in range(r.randint(0, 3)))})"


def expression(r: random.Random, depth: int = 0) -> str:
    "One random expression of bounded size, mixing allowed and forbidden constructs."
    if depth > 6 or r.random() < 0.25: return _atom(r)
    e = lambda: expression(r, depth + 1)
    k = r.random()
    if k < 0.35: return f"({e()} {r.choice(BINOPS)} {e()})"
    if k < 0.45: return f"{e()}{r.choice(CMPS)}{e()}"
    if k < 0.55: return f"{r.choice(['-', '+', 'not ', '~'])}{e()}"
    if k < 0.7: return f"{r.choice(FUNCS)}({', '.join(e() for _ in range(r.randint(0, 4)))})"
    return r.choice(NODES).format(e=e())


def extreme(r: random.Random) -> str:
    "Size and nesting at and beyond the limits."
    n = r.choice([10, 49, 50, 51, 100, 1000, 100_000])
    k = r.randrange(6)
    if k == 0: return '(' * n + '1' + ')' * n
    if k == 1: return '-' * n + '1'
    if k == 2: return ' + '.join(['a'] * min(n, 5000))
    if k == 3: return f"2 ** {'2 ** ' * min(n, 200)}2"
    if k == 4: return '9' * min(n, 100_000)
    return 'a' + ' * a' * min(n, 3000)


def noise(r: random.Random) -> str:
    "Random characters, printable and not."
    alphabet = 'ab01+-*/()., _<>=!"\'[]{}:;#%$&|^~@\\\n\t\x00é𝓍\u202e\ufeff'
    return ''.join(r.choice(alphabet) for _ in range(r.randint(0, 80)))


def cases(n: int, seed: int = 0):
    "`n` hostile `(kind, text)` cases, reproducible from `seed`."
    r = random.Random(seed)
    for _ in range(n):
        k = r.random()
        if k < 0.7: yield 'grammar', expression(r)
        elif k < 0.8: yield 'extreme', extreme(r)
        else: yield 'noise', noise(r)


_BAD_EVENTS = ('import', 'exec', 'open', 'os.', 'subprocess.', 'socket.', 'ctypes.', 'shutil.', 'builtins.input', 'object.__getattr__',
               'object.__setattr__', 'sys._getframe', 'code.__new__', 'function.__new__', 'marshal.', 'pickle.', 'urllib.')
_events: list[str] = []
_hooked = False


def _hook(event, args):
    if event.startswith(_BAD_EVENTS): _events.append(event)


def run(items, evaluate=None) -> dict:
    "Evaluate each case; counts by outcome, the first few failures of each kind, and the slowest case's seconds."
    global _hooked
    from finrag.sandbox import SandboxError, evaluate as sandbox_eval
    evaluate = evaluate or sandbox_eval
    if not _hooked: sys.addaudithook(_hook); _hooked = True
    counts, failures, slowest = Counter(), {}, 0.0
    for kind, text in items:
        _events.clear(); t0 = time.perf_counter()
        try:
            v = evaluate(text, NAMES)
            outcome = 'value' if isinstance(v, bool) or (isinstance(v, float) and math.isfinite(v)) else 'odd'
        except SandboxError: outcome = 'refused'
        except BaseException as e: outcome = 'uncaught'; text = f"{text[:200]!r}: {type(e).__name__}: {e}"[:300]
        dt_ = time.perf_counter() - t0; slowest = max(slowest, dt_)
        if _events: outcome = 'escape'; text = f"{text[:200]!r}: audit events {sorted(set(_events))}"
        elif dt_ > SLOW_S: outcome = 'slow'
        counts[outcome] += 1; counts[kind] += 1
        if outcome in ('uncaught', 'odd', 'escape', 'slow'): failures.setdefault(outcome, []).append(text[:300])
    return dict(counts=dict(counts), failures={k: v[:5] for k, v in failures.items()}, slowest_s=slowest)
