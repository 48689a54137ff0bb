"""confide's benchmarks: figures and ratios against baselines measured in the same run.

Run ``python -m bench`` (``--quick``: about 3 min on 2 busy cores). See ``bench/__main__.py``
for the options and the README's Performance section for what each figure means.
Benchmarks print; they never pass or fail on speed.
"""
