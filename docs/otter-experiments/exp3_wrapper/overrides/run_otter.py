"""Replacement for otter's run_otter.py: makes the plugin shipped in files/engine importable
(absolute path, so a student's own engine/ dir in submission/ cannot shadow it), then runs otter."""
import os, sys
AG = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/autograder")
sys.path.insert(0, os.path.join(AG, "source", "files", "engine"))
import ourplugin  # import now, before any student code runs
from otter.run.run_autograder import main as run_autograder
run_autograder(AG)  # otter writes AG/results/results.json; EnginePlugin.after_grading rewrote the scores
