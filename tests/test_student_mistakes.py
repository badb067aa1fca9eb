"""A student's wrong type or shape is the student's failure, said in words about their value,
never an "internal grader error": every graded function of every assignment, made to return
values of the wrong kind, graded in one batch per assignment."""
import pytest

import variants
from autograder import batch, grade

WRONG = {  # what the function returns instead of its answer
    "none": "None",
    "pair": "(1, 2)",
    "ragged": "[[1.0, 2.0], [3.0]]",
    "complex": "__import__('numpy').zeros(3) + 1j",
    "tensor": "__import__('torch').zeros(2, 3)",
}


def returning(text, function, value):
    """The reference, with ``function`` (or ``Class.method``) replaced by one that returns
    ``value``: a later definition of the same name, which definitions-only loading keeps."""
    if "." in function:
        cls, method = function.split(".")
        return text + f"\n\nclass {cls}({cls}):\n    def {method}(self, *args, **kwargs):\n        return {value}\n"
    return text + f"\n\ndef {function}(*args, **kwargs):\n    return {value}\n"


def grade_mistakes(assignment, reference, folder, make=None):
    """Every (task, wrong value) as a submission; {(task, kind): SubmissionResult}."""
    paths, keys = [], []
    for task, function in assignment.tasks.items():
        if task in assignment.graded_from_files:
            continue
        for kind, value in WRONG.items():
            name = f"t{task.replace('.', '_')}_{kind}"
            text = returning(reference, function, value)
            paths.append(make(folder / name, text) if make else variants.write(folder, name, text))
            keys.append((task, kind))
    with grade.Grader(assignment, grade.sandbox.Limits(call_timeout=10, load_timeout=20)) as grader:
        done = batch.grade_paths(grader, paths)
    return dict(zip(keys, done))


def assert_students_mistakes(assignment, graded):
    for (task, kind), r in graded.items():
        for c in r.checks:
            assert "Internal grader error" not in c.output and "internal error" not in c.output, \
                (task, kind, c.name, c.output)
            if c.score < c.points:
                assert c.output.strip(), (task, kind, c.name)
        if kind != "none":  # None is a right answer for methods that work in place
            lost = [c for c in r.checks if c.task == task and c.score < c.points]
            assert lost, (task, kind, "no check of the task noticed")


@pytest.mark.parametrize("name", ["gradient_descent", "linear_classifier", "mlp_backprop"])
def test_wrong_return_values_are_the_students_failure(name, tmp_path):
    import variants_linear
    import variants_mlp
    from autograder import assignments
    reference = {"gradient_descent": variants.reference_text, "linear_classifier": variants_linear.reference_text,
                 "mlp_backprop": variants_mlp.reference_text}[name]()
    assignment = assignments.get(name)
    assert_students_mistakes(assignment, grade_mistakes(assignment, reference, tmp_path))


def test_wrong_return_values_in_the_mnist_study_are_the_students_failure(mnist, mnist_study_run, tmp_path):
    import variants_mnist
    folder, _ = mnist_study_run
    graded = grade_mistakes(mnist, variants_mnist.reference_text(), tmp_path,
                            make=lambda dest, text: variants_mnist.make_folder(dest, text, folder) or dest)
    assert_students_mistakes(mnist, graded)

