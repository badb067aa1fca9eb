"""Local stand-in for `otter run` that makes a plugin shipped inside the zip importable.

otter's runner chdirs to <ag>/submission before importing plugins, so the relative
entry "../source/files/engine" resolves to the zip's files/engine directory (not the
submission/engine copy that a student could shadow)."""
import sys
sys.path.insert(0, "../source/files/engine")
import otter.run
res = otter.run.main(sys.argv[1], autograder=sys.argv[2], output_dir=sys.argv[3], no_logo=True)
print("TOTAL", res.total, "/", res.possible)
