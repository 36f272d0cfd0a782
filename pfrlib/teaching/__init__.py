"""Teaching a course with the series: assignments for students and grading of their submissions.

:mod:`pfrlib.teaching.assignments` writes, from the notebooks' ``solution`` and ``selfcheck``
cells, a release copy of each notebook (the student copy in nbgrader's format) and a grading copy
(solutions and hidden tests); :mod:`pfrlib.teaching.grading` runs a class's submissions against
the grading copies and writes marks and feedback; :mod:`pfrlib.teaching.hidden` is what the hidden
tests call inside a submission's kernel.
"""
