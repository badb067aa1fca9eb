"""Every file the toolkit generates from a template, rendered by one jinja2 environment over
``file_templates/``: ``pages/`` (the feedback pages, autoescaped as HTML), ``cluster/`` (Slurm and
Kubernetes job files), ``gradescope/`` (the zip's setup and entry scripts, its requirements)
and ``handout/`` (the cells and otter test files of the student's handout). A value bound for a
shell command line goes through the ``sh`` filter: quoted, unless it is ``ShellQuoted``
already.
"""
import functools
import shlex
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "file_templates"


class ShellQuoted(str):
    """A command line already quoted for the shell (the ``sh`` filter leaves it as it is)."""


def _sh(value: Any) -> str:
    return value if isinstance(value, ShellQuoted) else shlex.quote(str(value))


@functools.cache
def environment():  # -> jinja2.Environment (imported lazily: grading never renders)
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                                                 default_for_string=False, default=False),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["sh"] = _sh
    env.filters["py"] = repr  # a Python literal, in generated Python
    return env


def render(template: str, **values: Any) -> str:
    """The template ``template`` (a path under ``file_templates/``) filled with ``values``; a value
    it names and is not given is an error, never an empty string."""
    return environment().get_template(template).render(**values)
