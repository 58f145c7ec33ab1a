"""Schemathesis hooks for the API fuzz (`SCHEMATHESIS_HOOKS=st_hooks` with tests/security on PYTHONPATH).

`no_leak` fails a response that carries a stack trace, a server path, an exception name or a key's secret (the
secrets come from FINRAG_FUZZ_SECRETS, comma-separated). `after_call` counts every response by status into the
JSON file FINRAG_FUZZ_COUNTS, so the bench reports how many cases ran.
"""
import json, os
from collections import Counter
from pathlib import Path
import schemathesis
from leaks import leaks

_COUNTS: Counter = Counter()


def _secrets() -> list[str]: return [s for s in os.environ.get('FINRAG_FUZZ_SECRETS', '').split(',') if s]


def _sent(case) -> str:
    "Everything the client put in the request, as text: a path it sent may come back in a 4xx."
    return ' '.join(str(x) for x in (case.path_parameters, case.query, case.headers, case.body) if x)


@schemathesis.check
def no_leak(ctx, response, case):
    "No stack trace, server path, exception name or key secret in the body or headers."
    headers = ' '.join(f"{k}: {v}" for k, v in response.headers.items())
    found = leaks(response.text + '\n' + headers, _secrets(), _sent(case))
    if found: raise AssertionError(f"{response.status_code} response leaks: {'; '.join(found[:3])}")


@schemathesis.hook
def after_call(ctx, case, response):
    _COUNTS[str(response.status_code)] += 1
    if path := os.environ.get('FINRAG_FUZZ_COUNTS'): Path(path).write_text(json.dumps(dict(_COUNTS)))
