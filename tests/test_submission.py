"""Finding submissions, naming them, unpacking their zips: hostile names and zips included."""
import io
import zipfile
from pathlib import Path

import pytest

from autograder import submission


def test_names_are_safe_folder_names():
    assert submission.safe_name("alice") == "alice"
    assert submission.safe_name("..") == "_.."
    assert submission.safe_name(".") == "_."
    assert submission.safe_name("") == "_"
    assert submission.safe_name("a/b\\c\nd\x1b[0m") == "a_b_c_d_[0m"
    assert len(submission.safe_name("x" * 1000)) == submission.MAX_NAME_CHARS


def test_a_shared_stem_gives_each_file_its_own_name_whatever_the_order():
    paths = [Path("s/alice.py"), Path("s/alice.ipynb"), Path("s/bob.py"), Path("s/new\nline.py"),
             Path("s/new_line.py")]
    names = submission.names_for(paths)
    assert names == submission.names_for(list(reversed(paths)))
    assert names[Path("s/alice.py")] == "alice.py" and names[Path("s/alice.ipynb")] == "alice.ipynb"
    assert names[Path("s/bob.py")] == "bob"
    assert len(set(names.values())) == len(paths)  # sanitising two names to one still gives two folders
    lines = submission.renamed([submission.Found(p, n) for p, n in names.items()])
    assert "'alice.ipynb' and 'alice.py' share the name 'alice': graded as alice.ipynb and alice.py" in lines


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_mac_junk_and_checkpoints_are_ignored(tmp_path):
    z = make_zip(tmp_path / "sub.zip", {"sub/work.ipynb": "{}", "__MACOSX/sub/._work.ipynb": b"\x00\x05\x16\x07",
                                        "sub/.DS_Store": b"\x00", "sub/.ipynb_checkpoints/work-checkpoint.ipynb": "{}"})
    sub = submission.open_submission(z)
    try:
        assert not sub.problem and sub.main.name == "work.ipynb"
    finally:
        sub.close()
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "alice.py").write_text("x = 1\n")
    (folder / "._alice.py").write_bytes(b"\x00\x05\x16\x07")
    (folder / ".DS_Store").write_bytes(b"\x00")
    assert submission.find([folder]) == [folder / "alice.py"]


@pytest.mark.parametrize("members, why", [
    ({"../x.py": "x"}, "points outside"),
    ({"/etc/x.py": "x"}, "points outside"),
    ({"a" * 300 + ".py": "x"}, "no file system takes"),
    ({"sub": "x", "sub/x.py": "y"}, "both a file and a folder"),
])
def test_unsafe_or_impossible_members_are_refused(tmp_path, members, why):
    with pytest.raises(submission.SubmissionProblem, match=why):
        submission.safe_unzip(make_zip(tmp_path / "z.zip", members), tmp_path / "out")


def test_whatever_breaks_in_a_zip_is_a_submission_problem(tmp_path):
    """Every byte of a small zip flipped in turn: unpacking it ends normally or with
    SubmissionProblem, never another exception."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sub/work.py", "def f():\n    return 1\n" * 20)
        zf.writestr("sub/data.txt", "1 2 3\n")
    raw = buf.getvalue()
    for i in range(len(raw)):
        broken = bytearray(raw)
        broken[i] ^= 0xFF
        path = tmp_path / f"{i}.zip"
        path.write_bytes(bytes(broken))
        try:
            submission.safe_unzip(path, tmp_path / f"out{i}")
        except submission.SubmissionProblem:
            pass
