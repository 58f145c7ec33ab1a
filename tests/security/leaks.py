"""What an API response must never carry: a stack trace, a path on the server, a key's secret.

`leaks(text, secrets)` names each kind found. The schemathesis hooks (`st_hooks.py`) run it on every fuzzed response,
and the service tests run it on their own. A response may quote what the client sent (a field's value in a 422), so
the paths looked for are absolute server paths, not any slash.
"""
import re

TRACE_RE = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+|\bsite-packages\b')
PATH_RE = re.compile(r'(?<![\w.:/])/(?:home|root|tmp|work|usr|var|srv|etc|opt|private)/[\w.-]+(?:/[\w.-]+)*')
EXC_RE = re.compile(r'\b(?:sqlite3|psycopg|chromadb|pydantic_core)\.\w+|\b\w+(?:Error|Exception): ')


def leaks(text: str, secrets=(), sent: str = '') -> list[str]:
    "Each leak in `text`: 'trace', 'path <p>', 'exception <e>', 'secret'; a path the client itself sent (`sent`) is its own."
    out = [f"trace {m.group(0)!r}" for m in TRACE_RE.finditer(text)]
    out += [f"path {m.group(0)}" for m in PATH_RE.finditer(text) if m.group(0) not in sent]
    out += [f"exception {m.group(0).strip()}" for m in EXC_RE.finditer(text) if m.group(0) not in sent]
    out += ['secret' for s in secrets if s and s in text]
    return out
