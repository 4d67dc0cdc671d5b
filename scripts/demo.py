"""Run a notebook in a real kernel and print each cell's source and output.

``make demo`` uses it so the misses, hits and warnings can be seen without a browser.
"""

from __future__ import annotations

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


def main(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    workdir = os.path.dirname(os.path.abspath(path))
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": workdir}}
    )
    client.execute()
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            print(BAR)
            print(textwrap.indent(cell.source, "  # "))
            continue
        if cell.cell_type != "code":
            continue
        print(BAR)
        print(f"In [{number}]:")
        print(textwrap.indent(cell.source, "    "))
        out = "".join(_text_of(o) for o in cell.get("outputs", []))
        if out.strip():
            print("Out:")
            print(textwrap.indent(out.rstrip("\n"), "    "))
    print(BAR)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "notebooks/01_tutorial.ipynb"))
