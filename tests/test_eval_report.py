"The report pipeline end to end with a scripted agent: papermill notebook, summary JSON, results copy, offline W&B run; no network, nothing in ~."
import json, os, subprocess, sys
from pathlib import Path
from eval_fake_agent import write_toy
from finrag.eval import read_results
from finrag.report import summarize, _same_figures

SCRIPT = Path(__file__).parent/'eval_fake_agent.py'

def test_report_and_offline_wandb(tmp_path):
    data, home, fake_user_home, out = write_toy(tmp_path/'toy.json', 6), tmp_path/'finrag', tmp_path/'user', tmp_path/'eval_runs'
    fake_user_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(('WANDB_', 'JUPYTER_', 'IPYTHONDIR', 'MPLCONFIGDIR', 'XDG_'))}
    env.update(HOME=str(fake_user_home), FINRAG_HOME=str(home), WANDB_MODE='offline', WANDB_BASE_URL='http://127.0.0.1:9',
               HTTPS_PROXY='http://127.0.0.1:9', HTTP_PROXY='http://127.0.0.1:9')
    r = subprocess.run([sys.executable, str(SCRIPT), 'report', str(data), str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    nb = Path(r.stdout.strip().splitlines()[-1])
    assert nb.exists() and nb.parent == out and nb.name.endswith('.ipynb') and '_toy_scripted_' in nb.name
    summary = json.loads(nb.with_suffix('.json').read_text())
    recs = read_results(nb.with_suffix('.jsonl'))
    assert len(recs) == 6 and _same_figures(summary, summarize(recs, summary['run']))
    assert summary['metrics']['execution_accuracy'] == 0.5 and summary['notebook'] == nb.name
    cells = json.loads(nb.read_text())['cells']
    assert not any(o.get('output_type') == 'error' for c in cells for o in c.get('outputs', []))
    assert sum('image/png' in o.get('data', {}) for c in cells for o in c.get('outputs', [])) >= 3  # the plots
    assert '50.0%' in json.dumps(cells)  # the headline figure is in the notebook
    runs = list((home/'wandb').glob('wandb/offline-run-*'))
    assert len(runs) == 1 and list(runs[0].glob('*.wandb')), list((home/'wandb').rglob('*'))[:20]
    assert summary['wandb_dir'] == str(runs[0])
    assert list(fake_user_home.rglob('*')) == [], list(fake_user_home.rglob('*'))[:20]
