"""The public checks' runtime in the student's handout, copied into ``ag_public/`` file for file
by ``autograder build`` (``public.write_package``).

The handout's ``ag_public/`` mirrors this package's neighbours: ``checking/`` (the check-author
API), ``runtime/`` (codec, stand_ins, data, seeding) and this folder, as they are here, so these
modules import from them exactly as they do in the toolkit (``from .. import checking``). What
they may import is checked: the handout is imported in a fresh interpreter that has only the
handout (tests/test_bundle.py), so a new import of a module the handout lacks fails the build's tests,
not a student's notebook.
"""
