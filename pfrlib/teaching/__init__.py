"""What the notebooks and the course use: a notebook's start and parameters (``nbtools``,
``nbparams``), the exercises' self-checks (``selfcheck``), student copies (``student``), the
headless run of the whole series (``reproduce``), and a course's assignments: release and grading
copies in nbgrader's format (``assignments``), the hidden tests' strict self-checks (``hidden``)
and the grading of a class's submissions (``grading``).
"""
