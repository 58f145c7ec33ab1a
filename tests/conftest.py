import os, pytest
from pathlib import Path

def data_dir() -> Path | None:
    "The benchmark data folder, or None."
    from finrag.config import Settings
    return Settings().data_dir

@pytest.fixture
def shared_data() -> Path:
    "The benchmark data folder; missing data fails in CI and skips elsewhere."
    d = data_dir()
    if d is None or not d.is_dir():
        if os.environ.get('CI'): pytest.fail("FINRAG_DATA_DIR is not set and ../shared/data does not exist")
        pytest.skip("benchmark data not available")
    return d
