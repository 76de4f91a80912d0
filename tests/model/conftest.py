import pytest

from momentor.config import ModelConfig
from momentor.model.builders import build_model


@pytest.fixture
def tiny_model():
    return build_model(ModelConfig(preset="tiny"), seed=0)
