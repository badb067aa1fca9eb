"""The submit cell of the single-notebook handout: the zip to upload to Gradescope.

In Jupyter, JupyterLab and VS Code the notebook is a file beside the kernel, and otter's
``Notebook.export`` zips it. In Google Colab the notebook lives in Drive, not on the runtime's
disk, and otter's export refuses to run; there the notebook is asked of Colab's front end
(``google.colab._message``) and zipped here, in the same layout, then offered for download.
"""
import datetime
import json
import os
import zipfile
from typing import Any


def _colab() -> Any:
    """``google.colab``, where this kernel runs in Colab; else None."""
    try:
        import google.colab  # type: ignore[import-not-found]
        from google.colab import _message, files  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return None
    return google.colab


def _present(files: list[str]) -> list[str]:
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        print("Not found next to this notebook, so not in the zip:", ", ".join(missing),
              "(run the cells that write them)")
    return [f for f in files if f not in missing]


def make_submission(grader: Any, name: str, files: list[str]) -> str | None:
    """Write ``<name>_<time>.zip`` (the notebook and ``files``) and say what to do with it; in
    Colab, also start its download. Returns the zip's path (None where otter names it)."""
    present = _present(files)
    colab = _colab()
    if colab is None:  # the notebook is a file here: otter zips it, as in the folder handout
        grader.export(pdf=False, files=present)
        print(f"Upload the zip above to Gradescope's assignment {name!r}.")
        return None
    reply = colab._message.blocking_request("get_ipynb", request="", timeout_sec=120)
    notebook = reply.get("ipynb") if isinstance(reply, dict) else None
    if not isinstance(notebook, dict):
        raise RuntimeError("Colab did not hand over this notebook: save it (File > Save), then run this "
                           "cell again; or use File > Download > Download .ipynb and upload that file.")
    stamp = datetime.datetime.now().strftime("%Y_%m_%dT%H_%M_%S")
    out = f"{name}_{stamp}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.ipynb", json.dumps(notebook, indent=1))
        for f in present:
            z.write(f, os.path.basename(f))
    print(f"Wrote {out}. Your browser is downloading it: upload it to Gradescope's assignment {name!r}.\n"
          "If no download starts, open the Files panel (the folder icon on the left) and download it "
          "from there.")
    colab.files.download(out)
    return out
