import otter
grader = otter.Notebook()          # tests_dir="./tests" by default
def square(x):
    return x * x if x >= 0 else -x * x   # wrong for negatives
r = grader.check("q1")            # returns an ExceptionTestFile
print(type(r).__name__, "score", r.score, "/", r.possible, "passed_all", r.passed_all)
print(r.summary())
print("public-only:", r.summary(public_only=True))
print([ (t.test_case.name, t.test_case.hidden, t.test_case.points, t.passed) for t in r.test_case_results])
