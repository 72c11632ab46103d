"""The model registry: a folder of immutable versions and a pointer to the active one.

Layout under the registry root::

    v0001/manifest.json   feature list, window, parameters, data span and hash, libraries,
                          score calibration, threshold, feature baselines
    v0001/forest.skops    the isolation forest (skops; loaded with an explicit trusted list)
    v0001/history/*.parquet, v0001/volume.parquet, v0001/wallet.parquet   baselines as
                          Parquet, never pickles
    active.json           {"active": "v0003", "previous": ["v0001", "v0002"]}

A version is written into a temporary folder and renamed into place, so readers never see a
half-written one; ``active.json`` is replaced atomically too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.bundle import AnomalyModel, TrainConfig
from models.forest import ForestModel
from pipelines.features import PrincipalHistory

_VERSION = re.compile(r"^v(\d{4,})$")


class NoTrainedModel(LookupError):
    """The registry has no (active) model: train one with ``functrail train``."""


class ModelRegistry:
    """Versions of the anomaly model in a folder (``settings.models_dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def versions(self) -> list[dict[str, Any]]:
        """Manifests of every version, oldest first."""
        if not self.root.is_dir():
            return []
        found = sorted(
            (int(m.group(1)), p.name)
            for p in self.root.iterdir()
            if (m := _VERSION.match(p.name)) and (p / "manifest.json").is_file()
        )
        return [self._manifest(name) for _, name in found]

    def active(self) -> str | None:
        """The active version, or None when nothing was trained or activated."""
        return self._state().get("active")

    def register(self, model: AnomalyModel, *, activate: bool = True) -> str:
        """Store ``model`` as the next version (and make it active unless told not to)."""
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _VERSION.match(p.name))]
        version = f"v{max(numbers, default=0) + 1:04d}"
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            model.forest.save(staging / "forest.skops")
            model.history.save(staging / "history")
            model.volume.to_parquet(staging / "volume.parquet", index=False)
            model.wallet.to_parquet(staging / "wallet.parquet", index=False)
            forest = model.forest
            manifest = {
                **model.manifest,
                "version": version,
                "calibration": [float(v) for v in forest.calibration],
                "feature_stats": {
                    name: {k: float(v) for k, v in row.items()}
                    for name, row in forest.feature_stats.iterrows()
                },
            }
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
            staging.rename(self.root / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> None:
        """Make ``version`` the one detectors use; the previous one can be rolled back to."""
        if not (self.root / version / "manifest.json").is_file() or not _VERSION.match(version):
            raise KeyError(f"no model version {version!r} in {self.root}")
        state = self._state()
        current = state.get("active")
        previous = list(state.get("previous", []))
        if current and current != version:
            previous.append(current)
        self._write_state({"active": version, "previous": previous})

    def rollback(self) -> str:
        """Go back to the version active before the current one; returns it."""
        state = self._state()
        previous = list(state.get("previous", []))
        if not previous:
            raise NoTrainedModel(f"nothing to roll back to in {self.root}")
        version = previous.pop()
        self._write_state({"active": version, "previous": previous})
        return version

    def load(self, version: str | None = None) -> AnomalyModel:
        """The given version, or the active one; ``NoTrainedModel`` when there is none."""
        version = version or self.active()
        if version is None:
            raise NoTrainedModel(
                f"no trained anomaly model in {self.root}: run `functrail train` first"
            )
        folder = self.root / version
        if not _VERSION.match(version) or not (folder / "manifest.json").is_file():
            raise NoTrainedModel(f"model version {version!r} is not in {self.root}")
        manifest = self._manifest(version)
        stats = pd.DataFrame.from_dict(manifest["feature_stats"], orient="index")
        forest = ForestModel(
            forest=ForestModel.load_forest(folder / "forest.skops"),
            features=tuple(manifest["features"]),
            calibration=np.asarray(manifest["calibration"], dtype=np.float64),
            threshold=float(manifest["threshold"]),
            feature_stats=stats,
        )
        return AnomalyModel(
            forest=forest,
            history=PrincipalHistory.load(folder / "history"),
            volume=pd.read_parquet(folder / "volume.parquet"),
            config=TrainConfig(**manifest["parameters"]),
            manifest=manifest,
            wallet=(
                pd.read_parquet(folder / "wallet.parquet")
                if (folder / "wallet.parquet").is_file()
                else pd.DataFrame()
            ),
        )

    def _manifest(self, version: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / version / "manifest.json").read_text())
        return data

    def _state(self) -> dict[str, Any]:
        path = self.root / "active.json"
        if not path.is_file():
            return {}
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".active-", dir=self.root)
        with os.fdopen(fd, "w") as out:
            json.dump(state, out)
        os.replace(tmp, self.root / "active.json")
