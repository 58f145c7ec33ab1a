"The leak detector the API fuzz relies on: it must see what a careless 500 or log line would show, and not flag echoes."
from leaks import leaks


def test_a_python_traceback_is_a_leak():
    tb = 'Traceback (most recent call last):\n  File "/work/main/finrag/api.py", line 12, in ask\nKeyError: \'x\''
    found = leaks(tb)
    assert any(f.startswith('trace') for f in found) and any(f.startswith('path /work/main') for f in found)
    assert 'exception KeyError:' in found


def test_secrets_paths_and_driver_errors_are_leaks():
    assert leaks('{"error": "bad key fr_ab12_SECRET"}', ['SECRET']) == ['secret']
    assert leaks('could not open /root/.finrag/keys.sqlite') == ['path /root/.finrag/keys.sqlite']
    assert leaks('sqlite3.OperationalError: disk I/O error')[0].startswith('exception sqlite3.OperationalError')


def test_an_ordinary_error_body_is_clean():
    body = ('{"error": "invalid", "message": "page_id: must look like AAPL/2024/page_1.pdf", "field": "page_id", '
            '"reason": "https://example.org/docs#errors", "request_id": "b3f1"}')
    assert leaks(body, ['SECRET']) == []


def test_a_path_the_client_sent_is_not_a_leak():
    assert leaks('no such page: /etc/passwd', sent='{"page_id": "/etc/passwd"}') == []
    assert leaks('no such page: /etc/passwd') == ['path /etc/passwd']
