"""Security benchmarks: the sandbox against 100,000 hostile expressions (the CI runs a 5,000-case slice).

    python bench/bench_security.py [--n 100000] [--seed 7]

Prints outcome counts, any escape, uncaught exception, non-number result or slow case, the slowest case and the
memory growth; exits 1 if anything but a value or a refusal happened.
"""
import argparse, json, resource, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'tests'/'security'))
from hostile import cases, run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=100_000); ap.add_argument('--seed', type=int, default=7)
    a = ap.parse_args()
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    rep = run(cases(a.n, a.seed))
    rep.update(cases=a.n, seed=a.seed, seconds=round(time.perf_counter() - t0, 1), slowest_s=round(rep['slowest_s'], 4),
               memory_growth_mb=round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1))
    print(json.dumps(rep, indent=1))
    return 1 if rep['failures'] else 0


if __name__ == '__main__':
    sys.exit(main())
