"Sandbox fuzzing, the CI slice: hostile expressions from a grammar (the full 100,000 run is `make bench-security`)."
import resource
import pytest
from hostile import cases, run, SLOW_S


def test_hostile_expressions_never_escape_hang_or_crash():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rep = run(cases(5000, seed=1))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    c = rep['counts']
    assert not rep['failures'], rep['failures']  # no escape, uncaught exception, non-number result or slow case
    assert c.get('refused', 0) > 2000 and c.get('value', 0) > 100, c  # both outcomes really exercised
    assert rep['slowest_s'] < SLOW_S and grown_mb < 200, (rep['slowest_s'], grown_mb)


def test_the_escape_detector_sees_an_escape():
    "A deliberately unsafe evaluator (Python's eval) is caught: the detector is not blind."
    def unsafe(text, names): return eval(text, {}, dict(names))
    rep = run([('grammar', "__import__('os').getpid()")], evaluate=unsafe)
    assert rep['counts'].get('escape') == 1, rep
