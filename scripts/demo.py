"""Run a notebook in a real kernel and print each cell's source and output.

``make demo`` uses it so the misses, hits and warnings can be seen without a browser.
``--save`` also writes the executed notebook back, outputs included: that is how the
notebooks under ``notebooks/`` get the reference outputs nbval compares against.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

import nbformat
from nbclient import NotebookClient

BAR = "─" * 78


def _text_of(output: dict) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return "\n".join(output.get("traceback", [])) + "\n"
    data = output.get("data", {})
    if "text/plain" in data:
        text = data["text/plain"]
        return text if text.endswith("\n") or not text else text + "\n"
    kinds = ", ".join(sorted(data))
    return f"[{kinds}]\n" if kinds else ""


def execute(path: str) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    workdir = os.path.dirname(os.path.abspath(path))
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": workdir}},
        # The kernel's TCP-without-encryption warning is noise for a local demo.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    # nbclient would move what an ipywidgets Output widget (interact) prints into the
    # widget state; keep it in the cell, as the kernel sent it and as nbval sees it.
    client.widget_registry = {}
    client.execute()
    return nb


def show(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        print(BAR)
        if cell.cell_type == "markdown":
            print(textwrap.indent(cell.source, "  # "))
            continue
        if cell.cell_type != "code":
            continue
        print(f"In [{cell.get('execution_count') or ' '}]:")
        print(textwrap.indent(cell.source, "    "))
        out = "".join(_text_of(o) for o in cell.get("outputs", []))
        if out.strip():
            print("Out:")
            print(textwrap.indent(out.rstrip("\n"), "    "))
    print(BAR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default="notebooks/01_tutorial.ipynb")
    parser.add_argument("--save", action="store_true", help="write the outputs back")
    args = parser.parse_args()
    nb = execute(args.notebook)
    show(nb)
    if args.save:
        nbformat.write(nb, args.notebook)
    return 0


if __name__ == "__main__":
    sys.exit(main())
