from otter.test_files import test_case

OK_FORMAT = False          # required global: False => exception-based format

name = "q1"                # required global: question name shown in results
points = 3                 # optional: total; cases without points= share what's left

@test_case(points=1)
def public_square(square):           # params are looked up by name in the notebook globals
    assert square(3) == 9, "square(3) should be 9"

@test_case(points=2, hidden=True, failure_message="negative inputs")
def hidden_square(square, env):      # `env` receives the whole global namespace
    import numpy as np
    assert "square" in env
    assert np.isclose(square(-1.5), 2.25), f"square(-1.5) returned {square(-1.5)}"
