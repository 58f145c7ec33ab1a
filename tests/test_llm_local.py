"End-to-end: the real local model answers a schema-constrained question with valid JSON."
import json, time
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
