"""Evaluation and results: a checkpoint's per-class IoU (``evaluate``), the paper's Table 1 beside
ours (``tables``), and the committed multi-seed results files (``results_files``).
"""
