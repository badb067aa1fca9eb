"""From a graded batch to a course: who handed in what (``roster``, ``gradescope_export``),
when it was due and what lateness costs (``late_policy``, ``grace_ledger``), the grade that
counts per student (``course_grades``), the files an LMS imports (``lms_export``) and what a
regrade changed (``regrade_diff``).

Data flows one way: these modules read results (``autograder.results``) and never import the
grader; ``batch`` and ``cli`` call them.
"""
