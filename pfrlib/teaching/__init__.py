"""What the notebooks and the course use: a notebook's start and parameters (``nbtools``,
``nbparams``), the exercises' self-checks (``selfcheck``), student copies (``student``), and the
headless run of the whole series (``reproduce``).
"""
