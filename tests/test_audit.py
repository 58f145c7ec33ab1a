"The audit log's hash chain, on both stores: SQLite always, PostgreSQL when reachable (required in CI)."
import os, sqlite3, threading, uuid
from contextlib import closing
import pytest
from finrag.audit import AuditError, PostgresAuditLog, SqliteAuditLog

PG_URL = os.environ.get('FINRAG_TEST_DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/test')


def _pg_available() -> bool:
    try:
        import psycopg
        with psycopg.connect(PG_URL, connect_timeout=3): return True
    except Exception:
        return False


class Store:
    "A log plus a raw SQL door that bypasses it (what a tamperer with database access has)."
    def __init__(self, log, raw, disable_guards):
        self.log, self.raw, self.disable_guards = log, raw, disable_guards


@pytest.fixture(params=['sqlite', 'postgres'])
def store(request, tmp_path):
    if request.param == 'sqlite':
        log = SqliteAuditLog(tmp_path/'audit.sqlite')
        def raw(sql, *args):
            with closing(sqlite3.connect(log.path, isolation_level=None)) as con: con.execute(sql.replace('%s', '?'), args)
        def disable():
            for t in ('no_update', 'no_delete', 'head_forward'): raw(f'DROP TRIGGER audit_log_{t}')
        yield Store(log, raw, disable)
        return
    if not _pg_available():
        if os.environ.get('CI'): pytest.fail(f"PostgreSQL is not reachable at {PG_URL}")
        pytest.skip('PostgreSQL is not reachable')
    import psycopg
    schema = f"finrag_test_{uuid.uuid4().hex[:12]}"
    log = PostgresAuditLog(PG_URL, schema=schema)
    def raw(sql, *args):
        sql = sql.replace('audit_log', f'"{schema}".audit_log')
        with psycopg.connect(PG_URL, autocommit=True) as con: con.execute(sql, args or None)
    def disable():
        raw('ALTER TABLE audit_log DISABLE TRIGGER USER'); raw('ALTER TABLE audit_log_head DISABLE TRIGGER USER')
    try: yield Store(log, raw, disable)
    finally: log.drop()


def _fill(log, n=6):
    for i in range(n): log.append({'key_id': 'k1', 'role': 'reader', 'question': f'question {i}', 'status': 200})


def test_chain_verifies_and_reads_back(store):
    _fill(store.log)
    rep = store.log.verify()
    assert rep.ok and rep.records == 6 and rep.head_seq == 6
    assert [r['question'] for r in store.log.tail(2)] == ['question 4', 'question 5']


def test_database_refuses_edits_and_deletes(store):
    _fill(store.log, 3)
    for sql in ("UPDATE audit_log SET payload = '{}' WHERE seq = 2", 'DELETE FROM audit_log WHERE seq = 2'):
        with pytest.raises(Exception, match='append-only'): store.raw(sql)
    with pytest.raises(Exception, match='only moves forward'): store.raw('UPDATE audit_log_head SET seq = 1')
    assert store.log.verify().ok


def test_edited_record_is_detected(store):
    _fill(store.log)
    store.disable_guards()
    store.raw("UPDATE audit_log SET payload = replace(payload, 'question 2', 'question two') WHERE seq = 3")
    rep = store.log.verify()
    assert not rep.ok and rep.problems == ['record 3: content does not match its hash (edited)']


def test_edited_record_with_recomputed_hash_is_detected(store):
    "Recomputing the edited record's own hash is not enough: the next record's link breaks."
    from finrag.audit import canonical, chain_hash
    _fill(store.log)
    store.disable_guards()
    seq, payload, prev, _ = store.log.rows(2, 1)[0]
    forged = canonical({'key_id': 'k1', 'role': 'reader', 'question': 'forged', 'status': 200})
    store.raw('UPDATE audit_log SET payload = %s, hash = %s WHERE seq = 3', forged, chain_hash(prev, 3, forged))
    assert store.log.verify().problems == ['record 4: its link to the previous record is broken']


def test_deleted_records_are_detected(store):
    _fill(store.log)
    store.disable_guards()
    store.raw('DELETE FROM audit_log WHERE seq = 2')
    assert store.log.verify().problems[:2] == ['record 2 is missing', 'record 3: its link to the previous record is broken']
    store.raw('DELETE FROM audit_log WHERE seq = 6')  # the last record: only the head can tell
    assert 'the head says record 6 ends the log but the last record is 5' in store.log.verify().problems


def _keyed(store, tmp_path, every=3):
    "The store's log keyed (as FINRAG_AUDIT_KEY would) with checkpoints in a file beside, not in, the database."
    from finrag.audit import key_id
    log = store.log
    log.key, log.keys, log.checkpoint_path, log.checkpoint_every = b'audit-secret', {key_id(b'audit-secret'): b'audit-secret'}, tmp_path/'cp', every
    return log


def test_keyed_chain_catches_every_hash_recomputed(store, tmp_path):
    "Someone who can write the store rewrites record 2 and recomputes every hash after it, and the head: without the key it shows."
    from finrag.audit import chain_hash
    log = _keyed(store, tmp_path)
    _fill(log, 7)
    rep = log.verify()
    assert rep.ok and (rep.keyed, rep.checkpoints) == (7, 2), rep
    store.disable_guards()
    rows = log.rows(); prev = rows[0][3]
    for seq, payload, _, _ in rows[1:]:
        payload = payload.replace('question 1', 'forged'); h = chain_hash(prev, seq, payload)
        store.raw('UPDATE audit_log SET payload = %s, prev_hash = %s, hash = %s WHERE seq = %s', payload, prev, h, seq); prev = h
    store.raw('UPDATE audit_log_head SET hash = %s WHERE id = 1', prev)
    problems = log.verify().problems
    assert 'record 2: not keyed after keyed records (rewritten without the key)' in problems
    assert 'record 3: differs from its checkpoint (rewritten)' in problems and 'record 6: differs from its checkpoint (rewritten)' in problems


def test_truncation_with_the_head_moved_back_is_caught_by_a_checkpoint(store, tmp_path):
    log = _keyed(store, tmp_path)
    _fill(log, 7)
    store.disable_guards()
    store.raw('DELETE FROM audit_log WHERE seq > 4')
    store.raw('UPDATE audit_log_head SET seq = 4, hash = %s WHERE id = 1', log.rows(3, 1)[0][3])  # the chain alone now looks whole
    assert log.verify().problems == ['a checkpoint saw record 6, but the log ends at 4 (truncated)']


def test_a_rotated_key_still_verifies_its_records(store, tmp_path):
    from finrag.audit import key_id
    log = _keyed(store, tmp_path)
    _fill(log, 4)
    log.key = b'new-secret'; log.keys[key_id(b'new-secret')] = b'new-secret'
    _fill(log, 3)
    assert log.verify().ok and log.verify().keyed == 7
    del log.keys[key_id(b'audit-secret')]  # the old key dropped from FINRAG_AUDIT_OLD_KEYS: its records cannot be checked
    problems = log.verify().problems
    assert f"checkpoint line 1: signed with key {key_id(b'audit-secret')}, which is not configured" in problems
    assert f"record 1: signed with key {key_id(b'audit-secret')}, which is not configured (FINRAG_AUDIT_KEY or FINRAG_AUDIT_OLD_KEYS)" in problems


def test_concurrent_appends_form_one_chain(store):
    "Threads, each with its own connection (and for PostgreSQL a second log object, as a second worker would)."
    logs = [store.log, type(store.log)(*([store.log.path] if isinstance(store.log, SqliteAuditLog) else [PG_URL]),
                                       **({} if isinstance(store.log, SqliteAuditLog) else {'schema': store.log.schema}))]
    errors = []
    def work(i):
        try:
            for j in range(15): logs[i % 2].append({'thread': i, 'n': j})
        except Exception as e: errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads: t.start()
    for t in threads: t.join()
    rep = store.log.verify()
    assert not errors and rep.ok and rep.records == 90


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(AuditError, match='cannot reach the audit database'):
        PostgresAuditLog('postgresql://postgres@127.0.0.1:1/none', connect_timeout=2)


def test_the_service_settings_key_and_checkpoint_the_log(tmp_path):
    "FINRAG_AUDIT_KEY / _OLD_KEYS / _CHECKPOINTS / _CHECKPOINT_EVERY reach the log the API opens; the key never reaches a record."
    from finrag.api import open_audit
    from finrag.audit import key_id
    from finrag.config import Settings
    s = Settings(_env_file=None, home=tmp_path, database_url=None, audit_key='current-secret', audit_old_keys=' old-1 ,old-2',
                 audit_checkpoints=tmp_path/'elsewhere'/'audit.checkpoints', audit_checkpoint_every=2)
    log = open_audit(s)
    assert log.key == b'current-secret' and set(log.keys) == {key_id(b'current-secret'), key_id(b'old-1'), key_id(b'old-2')}
    for i in range(5): log.append({'question': f'q{i}'})
    lines = (tmp_path/'elsewhere'/'audit.checkpoints').read_text().splitlines()
    assert len(lines) == 2 and log.verify().ok and log.verify().checkpoints == 2
    assert b'current-secret' not in (tmp_path/'audit.sqlite').read_bytes() and 'current-secret' not in ''.join(lines)
