"""Written answers and plots of each submission, for the TAs who grade them by hand: one PDF
per submission. Through otter's LaTeX export where ``xelatex`` and ``pandoc`` are installed,
otherwise through headless Chromium's print-to-PDF (Debian's ``chromium-headless-shell`` or
``chromium``) of the page ``file_templates/pages/ta_export.html.j2`` makes; an HTML page when
neither is there."""
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .results import atomic_write

MANUAL_MARKER = "(written, graded by hand)"  # in a question's heading, when no ids are given
CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser")


def manual_parts(nb, questions=()):
    """The written answers (the markdown cell of each question graded by hand, where the
    student answers: "Question 1.5" for each id in ``questions``, else any cell marked
    MANUAL_MARKER) and every code cell that drew a plot."""
    import nbformat

    def asks(source):
        if questions:
            return any(re.search(rf"\bquestion\s+{re.escape(q)}(?![\d.])", source, re.I) for q in questions)
        return MANUAL_MARKER in source.lower()

    keep = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and asks(cell.source):
            keep.append(cell)
        elif cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            keep.append(cell)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = keep
    return out


def chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def ta_page(nb, title: str) -> str:
    """The notebook's parts as one self-contained HTML page, plots embedded. Student HTML
    is kept as written (nbconvert's sanitiser escapes headings too): the page's
    Content-Security-Policy lets no script run and nothing load."""
    from nbconvert import HTMLExporter

    from .feedback import render
    exporter = HTMLExporter(template_name="basic", exclude_input=True, embed_images=True, sanitize_html=False)
    body, _ = exporter.from_notebook_node(nb)
    return render("ta_export.html.j2", title=title, body=body)


def print_to_pdf(html_path: Path, pdf_path: Path, browser: str, timeout: float = 120) -> None:
    """Chromium prints the page (its Content-Security-Policy, from ``base.html.j2``, lets no
    script run: the page is the student's writing)."""
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                           f"--print-to-pdf={pdf_path}",
                           html_path.as_uri()], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"{browser} did not print {html_path} (exit {proc.returncode}): {proc.stderr[-500:]}")


def for_tas(notebook_path, out_dir, title: str | None = None, questions=()) -> Path:
    """``out_dir/<title>.pdf`` (or .html where no PDF maker is installed); returns the path.
    ``questions``: the ids of the written questions (the assignment's ``manual``)."""
    import nbformat
    nb = manual_parts(nbformat.read(notebook_path, as_version=4), questions)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = title or Path(notebook_path).stem
    pdf = out_dir / f"{stem}.pdf"
    if shutil.which("xelatex") and shutil.which("pandoc"):
        from otter.export import export_notebook
        with tempfile.TemporaryDirectory() as tmp:
            nbformat.write(nb, Path(tmp) / f"{stem}.ipynb")
            export_notebook(str(Path(tmp) / f"{stem}.ipynb"), dest=str(pdf), exporter_type="latex")
        return pdf
    page = ta_page(nb, stem)
    browser = chromium()
    if browser is None:
        path = out_dir / f"{stem}.html"
        atomic_write(path, page)
        return path
    with tempfile.TemporaryDirectory() as tmp:
        html_path = Path(tmp) / f"{stem}.html"
        html_path.write_text(page, encoding="utf-8")
        print_to_pdf(html_path, Path(tmp) / "out.pdf", browser)
        shutil.move(Path(tmp) / "out.pdf", pdf)
    return pdf
