import os

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer
from skops.io.exceptions import UntrustedTypesFoundException

from models.bundle import TrainConfig
from models.forest import ForestModel
from models.registry import ModelRegistry, NoTrainedModel
from models.train import train
from pipelines.features import window_start
from tests.factories import routine_activity


@pytest.fixture(scope="module")
def days():
    activity = routine_activity(8, principals=4, per_hour=6)
    return [g for _, g in activity.groupby(window_start(activity["time"], "day"))]


@pytest.fixture(scope="module")
def model(days):
    return train(days, TrainConfig(trees=30, min_history_days=2))


def test_empty_registry_raises_no_trained_model(tmp_path):
    with pytest.raises(NoTrainedModel, match="functrail train"):
        ModelRegistry(tmp_path / "models").load()


def test_register_activate_and_rollback(tmp_path, model):
    registry = ModelRegistry(tmp_path / "models")
    first = registry.register(model)
    second = registry.register(model)
    assert (first, second) == ("v0001", "v0002")
    assert registry.active() == "v0002"
    assert registry.rollback() == "v0001"
    registry.activate("v0002")
    assert registry.active() == "v0002"
    with pytest.raises(KeyError):
        registry.activate("v0009")


def test_loaded_model_scores_like_the_trained_one(tmp_path, model, days):
    registry = ModelRegistry(tmp_path / "models")
    registry.register(model)
    loaded = registry.load()
    frame = model.history.principals  # any frame works only with features: use training rows
    from pipelines.features import principal_features

    rows = principal_features(days[-1], model.history)
    assert np.allclose(loaded.forest.scores(rows), model.forest.scores(rows))
    assert loaded.manifest["data_sha256"] == model.manifest["data_sha256"]
    assert len(frame) == len(loaded.history.principals)


def test_manifest_records_span_features_and_libraries(model):
    manifest = model.manifest
    assert manifest["training_span"]["start"].startswith("2026-03-02")
    assert "new_regions" in manifest["features"]
    assert "scikit-learn" in manifest["libraries"]
    assert 0.99 <= manifest["threshold"] < 1.0


def test_training_is_deterministic_with_a_seed(days, model):
    again = train(days, TrainConfig(trees=30, min_history_days=2))
    assert np.array_equal(again.forest.calibration, model.forest.calibration)


def test_artifact_calling_a_function_refuses_to_load(tmp_path):
    path = tmp_path / "forest.skops"
    skops.io.dump(FunctionTransformer(func=os.system), path)
    with pytest.raises(UntrustedTypesFoundException):
        ForestModel.load_forest(path)


def test_artifact_of_another_model_refuses_to_load(tmp_path):
    path = tmp_path / "forest.skops"
    skops.io.dump(LogisticRegression(), path)
    with pytest.raises(TypeError, match="not an IsolationForest"):
        ForestModel.load_forest(path)


def test_wallet_baselines_round_trip_as_parquet_and_old_versions_load_without(tmp_path, model):
    registry = ModelRegistry(tmp_path / "models")
    version = registry.register(model)
    assert len(model.wallet) > 0
    assert (tmp_path / "models" / version / "wallet.parquet").is_file()
    loaded = registry.load()
    assert loaded.wallet.equals(model.wallet)
    (tmp_path / "models" / version / "wallet.parquet").unlink()  # a version from before
    assert registry.load().wallet.empty
