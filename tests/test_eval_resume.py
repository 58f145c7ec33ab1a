"An evaluation killed with SIGKILL resumes where it stopped and never recomputes a finished question."
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from eval_fake_agent import write_toy
from finrag.eval import read_meta, read_results
from finrag.report import summarize

SCRIPT = Path(__file__).parent/'eval_fake_agent.py'

def _start(data: Path, out: Path, log: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(data), str(out), str(log), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> Path:
    "The run folder, once its results file has at least `n` lines."
    t0 = time.time()
    while time.time() - t0 < timeout:
        runs = list(out.glob('*/results.jsonl'))
        if runs and len(read_results(runs[0])) >= n: return runs[0].parent
        if proc.poll() is not None: pytest.fail(f"the runner exited early: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail('the runner wrote too few lines')

def test_kill_9_then_resume(tmp_path):
    data, out, log = write_toy(tmp_path/'toy.json', 8), tmp_path/'runs', tmp_path/'asked.log'
    proc = _start(data, out, log, delay=0.4)
    run_dir = _wait_for_lines(out, 3, proc)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    before = read_results(run_dir)
    assert 3 <= len(before) < 8 and read_meta(run_dir)['finished'] is False
    asked_before = log.read_text().splitlines()

    r = subprocess.run([sys.executable, str(SCRIPT), str(data), str(out), str(log), '0'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    after = read_results(run_dir)
    assert len(after) == 8 and len({x['id'] for x in after}) == 8
    assert after[:len(before)] == before  # finished lines untouched
    asked_again = log.read_text().splitlines()[len(asked_before):]
    assert sorted(asked_again) == sorted(x['question'] for x in after[len(before):])  # only unfinished questions asked
    assert read_meta(run_dir)['finished'] is True
    assert summarize(after)['metrics']['accuracy'] == 0.5

def test_second_runner_on_the_same_run_is_refused(tmp_path):
    data, out = write_toy(tmp_path/'toy.json', 4), tmp_path/'runs'
    first = _start(data, out, tmp_path/'a.log', delay=1.0)
    try:
        _wait_for_lines(out, 1, first)
        r = subprocess.run([sys.executable, str(SCRIPT), str(data), str(out), str(tmp_path/'b.log'), '0'], capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and 'another evaluation is writing' in r.stderr
    finally:
        first.kill(); first.wait()
