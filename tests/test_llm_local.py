"End-to-end with the real local model: a schema-constrained answer, and the fixed prompt prefix's state shared by processes."
import json, subprocess, sys, time
import pytest
from finrag.config import get_settings
from finrag.llm import LocalLLM
from finrag.models import ModelError, llm_path

SCHEMA = {'type': 'object', 'properties': {'answer': {'type': 'number'}, 'unit': {'type': 'string', 'enum': ['million', 'billion']}},
          'required': ['answer', 'unit'], 'additionalProperties': False}

@pytest.mark.e2e
def test_local_json_schema():
    s = get_settings(local_model='qwen2.5-coder-0.5b', n_threads=2, max_tokens=40)
    try: llm_path(s)
    except ModelError as e: pytest.skip(f"local model not available: {e}")
    llm = LocalLLM.from_settings(s)
    msgs = [{'role': 'system', 'content': 'Answer with a JSON object.'},
            {'role': 'user', 'content': 'Revenue was $120 million in 2019 and $150 million in 2020. How much did it grow, in millions?'}]
    t0 = time.perf_counter()
    c = llm.complete(msgs, schema=SCHEMA)
    out = json.loads(c.text)
    assert set(out) == {'answer', 'unit'} and isinstance(out['answer'], (int, float)) and out['unit'] in ('million', 'billion')
    assert c.provider == 'local' and c.prompt_tokens > 20 and 0 < c.completion_tokens <= 40 and c.finish_reason == 'stop'
    assert time.perf_counter() - t0 < 120


# A new process answering with the fixed prefix's KV rows read from FINRAG_HOME/state instead of evaluated.
_CHILD = r'''
import json, sys
from finrag.config import get_settings
from finrag.llm import LocalLLM, load_prompt
from finrag.models import llm_path
path = llm_path(get_settings(local_model='qwen2.5-coder-0.5b'))
llm = LocalLLM(path, n_threads=2, max_tokens=80, state_dir=sys.argv[1] or None)
evidence = ("[R1] net revenue | 2024: $ 1,284.6 | 2023: $ 1,136.1\n[R2] cost of revenue | 2024: 742.3 | 2023: 668.9\n"
            "[S1] net revenue grew on higher volumes in the industrial segment .")
msgs = load_prompt('named').messages(evidence=evidence, examples='', history='',
                                     question='what was the percentage change in net revenue from 2023 to 2024?')
schema = {'type': 'object', 'properties': {'values': {'type': 'object', 'additionalProperties': {'type': 'number'}},
          'expression': {'type': 'string'}, 'kind': {'type': 'string', 'enum': ['number', 'percent', 'yes/no']}},
          'required': ['values', 'expression', 'kind']}
c = llm.complete(msgs, schema=schema)
print(json.dumps(dict(text=c.text, prefix=llm.last_prefix, reused=c.reused_tokens, prompt_tokens=c.prompt_tokens,
                      evaluated=llm.last_perf['prompt_eval_tokens'], latency_s=c.latency_s)))
'''

def _answer_in_new_process(state_dir) -> dict:
    "One completion of the named prompt by the 0.5B model in a fresh Python process; `state_dir` None: no prompt state."
    r = subprocess.run([sys.executable, '-c', _CHILD, str(state_dir or '')], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])

@pytest.mark.e2e
def test_prompt_state_across_processes(tmp_path):
    try: llm_path(get_settings(local_model='qwen2.5-coder-0.5b'))
    except ModelError as e: pytest.skip(f"local model not available: {e}")
    state = tmp_path/'state'
    plain = _answer_in_new_process(None)  # FINRAG_PROMPT_STATE=false: the whole prompt evaluated, nothing written
    assert plain['prefix'] == '' and plain['evaluated'] >= plain['prompt_tokens'] - 1 and not state.exists()
    first = _answer_in_new_process(state)  # evaluates the prompt, writes the fixed prefix's state
    files = list(state.glob('*.kv'))
    assert first['prefix'] == 'saved' and first['text'] == plain['text'] and len(files) == 1, first
    second = _answer_in_new_process(state)  # a new process: the prefix comes from the file
    assert second['prefix'] == 'loaded' and second['text'] == plain['text'], second
    assert second['reused'] > 500 and second['evaluated'] <= plain['evaluated'] - second['reused'] + 1, (second, plain)
    size = files[0].stat().st_size
    files[0].write_bytes(files[0].read_bytes()[:size // 2])  # truncated: refused, evaluated again, rewritten whole
    third = _answer_in_new_process(state)
    assert third['prefix'] == 'saved' and third['text'] == plain['text'] and files[0].stat().st_size == size, third
    print(json.dumps(dict(plain=plain, saved=first, loaded=second, after_truncation=third), indent=1))
