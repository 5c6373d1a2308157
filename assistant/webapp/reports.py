"""Which eval reports the "Eval reports" page may open: JSON files inside the report folders
(HCPCS_REPORT_DIRS; default ``.artifacts/`` and ``evals/``), or a file the user uploads.

On a server a team shares, a page must not read whatever path is typed into it. The page
offers the reports found under the folders by a label (``evals/baseline.json``) and opens
only what a label names: a regular file whose real path, symlinks resolved, lies inside the
folder the label names. Anything else (an absolute path, ``..``, a symlink that leads out of
the folder, a file that is not listed) is refused with one message that does not say whether
the file exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant.errors import UsageError

MAX_LISTED = 500  # reports listed per folder: a folder of artefacts is not a file browser
REFUSED = "only the reports under the report folders (HCPCS_REPORT_DIRS) can be opened"


class ReportFolders:
    """The report folders of the settings, each known by a label (its name, made unique)."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders: dict[str, Path] = {}
        for folder in folders:
            label = folder.name or str(folder)
            n = 2
            while label in self.folders:
                label, n = f"{folder.name}-{n}", n + 1
            self.folders[label] = folder

    def choices(self) -> list[str]:
        """Labels of every JSON file under the folders (``evals/baseline.json``), sorted per
        folder; files that resolve outside their folder are not listed."""
        labels = []
        for label, folder in self.folders.items():
            root = _real(folder)
            if root is None or not root.is_dir():
                continue
            found = []
            for path in sorted(folder.rglob("*.json")):
                real = _real(path)
                if real is not None and real.is_file() and real.is_relative_to(root):
                    found.append(f"{label}/{path.relative_to(folder).as_posix()}")
                if len(found) >= MAX_LISTED:
                    break
            labels += found
        return labels

    def resolve(self, choice: str) -> Path:
        """The file a label names; UsageError for anything that is not a listed report."""
        parts = choice.split("/")
        if (
            len(parts) < 2
            or "\\" in choice
            or any(p in ("", ".", "..") for p in parts)
            or parts[0] not in self.folders
        ):
            raise UsageError(REFUSED)
        folder = self.folders[parts[0]]
        root = _real(folder)
        path = folder.joinpath(*parts[1:])
        real = _real(path)
        if (
            root is None
            or real is None
            or not real.is_relative_to(root)
            or not real.is_file()
            or real.suffix != ".json"
        ):
            raise UsageError(REFUSED)
        return real

    def load(self, choice: str) -> dict[str, Any]:
        """The report a label names, read and checked (see ``load_report``)."""
        from assistant.evaluation.runner import load_report

        return load_report(self.resolve(choice))


def read_upload(name: str, data: bytes) -> dict[str, Any]:
    """An uploaded report, checked as ``load_report`` checks a file."""
    try:
        report = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UsageError(f"{name} is not a JSON report") from None
    if not isinstance(report, dict) or "metrics" not in report or "items" not in report:
        raise UsageError(f"{name} is not an eval report (no metrics and items)")
    return report


def _real(path: Path) -> Path | None:
    """The path with every symlink resolved; None when it cannot be (a loop, no permission)."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
