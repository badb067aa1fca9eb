"""Code that runs inside the sandboxed worker process.

Everything in this subpackage is copied next to the worker and imported there, so it must
only use relative imports and the standard library (plus NumPy/torch where noted). Nothing
secret lives here: checks and reference solutions stay in the grader process.
"""
