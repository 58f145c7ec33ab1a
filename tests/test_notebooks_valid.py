"Every notebook is valid nbformat 4: a cell typed `md` exports with nbdev but will not open in Jupyter."
from pathlib import Path
import nbformat, pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob('nbs/*.ipynb')) + sorted(ROOT.glob('dashboards/*.ipynb'))

@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid(path):
    nbformat.validate(nbformat.read(path, as_version=4))

def test_an_invalid_cell_type_is_caught(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# x')])
    nb.cells[0]['cell_type'] = 'md'
    with pytest.raises(nbformat.ValidationError): nbformat.validate(nb)

def test_there_are_notebooks(): assert len(NOTEBOOKS) > 20
