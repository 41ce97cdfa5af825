"""Resume checkpoints: a model's weights, its optimizer's state and a JSON progress record in one folder,
replaced whole by renames so that a crash at any moment leaves either the old or the new one."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from deepqa import atomic
from deepqa.errors import TrainingError


class ResumeCheckpoint:
    """The checkpoint folder ``run_dir/name``: written after every epoch, read to continue training."""

    def __init__(self, run_dir: Path, name: str):
        self.final, self.fresh, self.old = run_dir / name, run_dir / f"{name}.new", run_dir / f"{name}.old"

    def save(self, model, optimizer, progress: dict) -> None:
        """Write weights, optimizer state and ``progress`` to ``NAME.new/``, then swap it in by renames."""
        shutil.rmtree(self.fresh, ignore_errors=True)
        self.fresh.mkdir()
        model.save_weights(self.fresh / "model.weights.h5")
        with open(self.fresh / "optimizer.npz", "wb") as handle:
            np.savez(handle, *[keras.ops.convert_to_numpy(v) for v in optimizer.variables])
        atomic.write_json(self.fresh / "progress.json", progress)
        shutil.rmtree(self.old, ignore_errors=True)
        if self.final.exists():
            os.replace(self.final, self.old)
        os.replace(self.fresh, self.final)
        shutil.rmtree(self.old, ignore_errors=True)

    def folder(self) -> Path | None:
        """The folder holding the latest complete checkpoint, or None."""
        for folder in (self.final, self.old):  # .old only when a crash came between the two renames
            if (folder / "progress.json").is_file():
                return folder
        return None

    def progress(self) -> dict | None:
        """The saved progress record, or None when there is no checkpoint."""
        folder = self.folder()
        return json.loads((folder / "progress.json").read_text(encoding="utf-8")) if folder else None

    def restore(self, model, optimizer) -> dict:
        """Load weights and optimizer state into ``model`` and ``optimizer`` (built beforehand); the progress."""
        folder = self.folder()
        if folder is None:
            raise TrainingError(f"{self.final.parent} has no completed epoch to resume from; start a new run instead")
        try:
            model.load_weights(folder / "model.weights.h5")
        except ValueError as exc:
            raise TrainingError(f"the saved weights in {folder} do not fit the configured model: {exc}") from None
        with np.load(folder / "optimizer.npz") as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if len(values) != len(optimizer.variables):
            raise TrainingError(f"the optimizer state in {folder} does not fit the configured model")
        for variable, value in zip(optimizer.variables, values):
            variable.assign(value)
        return json.loads((folder / "progress.json").read_text(encoding="utf-8"))

    def remove(self) -> None:
        """Delete the checkpoint (training finished; its results are elsewhere in the bundle)."""
        for folder in (self.final, self.fresh, self.old):
            shutil.rmtree(folder, ignore_errors=True)
