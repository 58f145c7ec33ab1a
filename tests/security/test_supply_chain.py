"Model files are checked before every load: a corrupted copy that keeps its size and time is refused, and no pickle loads."
import os, shutil
from pathlib import Path
import pytest
from finrag.config import Settings
from finrag.models import LLM_SPECS, ModelError, minilm_path

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get('FINRAG_HOME', REPO/'.finrag'))/'models'


def _flip_a_byte(path: Path, at: int):
    "Corrupt one byte in place, keeping the file's size and modification time (what a stamp would trust)."
    st = path.stat()
    with open(path, 'r+b') as f:
        f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_corrupted_gguf_is_refused_before_llama_loads_it(tmp_path):
    from finrag.llm import load_llama
    spec = LLM_SPECS['qwen2.5-coder-0.5b']
    src = MODELS/spec.filename
    if not src.is_file():
        if os.environ.get('CI'): pytest.fail(f"{src} is not assembled (make models)")
        pytest.skip('the 0.5B model is not assembled')
    copy = tmp_path/spec.filename
    shutil.copy2(src, copy)
    _flip_a_byte(copy, copy.stat().st_size // 2)
    with pytest.raises(ModelError, match='does not match the pinned .*refusing to load it'):
        load_llama(copy, n_ctx=256)


def test_corrupted_or_pickled_embedding_weights_are_refused(tmp_path, monkeypatch):
    import finrag.models
    from finrag.ingest import SentenceEmbedder
    copy = tmp_path/'minilm'
    shutil.copytree(minilm_path(), copy)
    monkeypatch.setattr(finrag.models, 'embed_model_path', lambda settings, name=None: copy)
    emb = lambda: SentenceEmbedder(Settings(_env_file=None, home=tmp_path), 'all-MiniLM-L6-v2').embed(['net sales'])
    assert emb().shape == (1, 384)  # the intact copy loads
    _flip_a_byte(copy/'model.safetensors', 5000)
    with pytest.raises(ModelError, match='does not match the pinned'): emb()
    shutil.copy2(minilm_path()/'model.safetensors', copy/'model.safetensors')
    (copy/'pytorch_model.bin').write_bytes(b'\x80\x04 a pickle')
    with pytest.raises(ModelError, match='refusing to load pickle-format files'): emb()
