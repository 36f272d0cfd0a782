"""Launching runs: one launcher for training runs and notebooks (``launcher``), a job and the
process that runs it (``job``), where jobs run (``local``, ``slurm``, ``slurm_run``), each run's
progress while it trains in a subprocess (``progress``), and parameter
sweeps (``sweep_spec``: the spec; ``sweep``: running it; ``sweep_report``: its tables and plots).
"""
