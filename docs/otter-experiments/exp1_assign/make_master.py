import nbformat as nbf
v4 = nbf.v4
cells = [
 v4.new_raw_cell("""# ASSIGNMENT CONFIG
name: hw1
requirements: requirements.txt
overwrite_requirements: true
environment: environment.yml
python_version: "3.11"
autograder_files:
  - mygrader
init_cell: true
export_cell: false
check_all_cell: false
tests:
  files: true
  ok_format: false
generate:
  show_stdout: true
  show_hidden: false
  plugins: []
"""),
 v4.new_markdown_cell("# HW1"),
 v4.new_raw_cell("""# BEGIN QUESTION
name: q1
points: 3
"""),
 v4.new_markdown_cell("Write `square(x)`."),
 v4.new_raw_cell("# BEGIN SOLUTION"),
 v4.new_code_cell("""def square(x):
    return x * x  # SOLUTION"""),
 v4.new_raw_cell("# END SOLUTION"),
 v4.new_raw_cell("# BEGIN TESTS"),
 v4.new_code_cell('''""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_public(square):
    assert square(3) == 9, "square(3) should be 9"
test_public(square)'''),
 v4.new_code_cell('''""" # BEGIN TEST CONFIG
hidden: true
points: 2
failure_message: hidden check failed
""" # END TEST CONFIG
def test_hidden(square):
    import numpy as np
    assert np.isclose(square(-1.5), 2.25)
test_hidden(square)'''),
 v4.new_raw_cell("# END TESTS"),
 v4.new_raw_cell("# END QUESTION"),
]
nb = v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nb.metadata["language_info"] = {"name": "python"}
nbf.write(nb, "master.ipynb")
