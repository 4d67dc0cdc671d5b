"""Copy the latest bench/RESULTS.md into README.md between its bench markers.

``make bench`` runs it after the benchmark, so the README always shows the figures of the
last run rather than numbers typed in by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main() -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text()
    body = results.split("\n", 1)[1].strip()  # drop the file's own title
    body = re.sub(r"^## ", "#### ", body, flags=re.MULTILINE)
    readme = ROOT / "README.md"
    text = readme.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(f"{before}{START}\n{body}\n{END}{after}")


if __name__ == "__main__":
    main()
