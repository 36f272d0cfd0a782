"""Evaluation and results: a checkpoint's per-class IoU (``evaluate``), the paper's Table 1 beside
ours (``tables``), the committed multi-seed results files (``results_files``), and paired
comparisons of methods over seeds with intervals, tests and Holm's correction (``statistics``);
which shift component each method closes, from the per-component grid (``components``).
"""
