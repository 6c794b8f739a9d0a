"""The model card: read typed, written back unchanged, and a wrong card is one message naming the field."""
from __future__ import annotations

import json

import pytest

from conftest import MODEL
from emotion_cam.emotion.card import CardError, LandmarkGeometry, ModelCard
from emotion_cam.emotion.labels import EMOTIONS


def test_the_shipped_card_reads_typed_and_writes_back_byte_for_byte(tmp_path):
    card = ModelCard.read(MODEL.with_suffix(".json"))
    assert isinstance(card.crop_geometry["yunet"], LandmarkGeometry) and card.labels == EMOTIONS
    assert card.calibration.shown.ece < 0.1 and card.metrics.accuracy > 0.5
    card.write(tmp_path / "card.json")
    assert (tmp_path / "card.json").read_text() == MODEL.with_suffix(".json").read_text()


def test_a_minimal_card_takes_the_defaults():
    card = ModelCard.from_dict({"labels": list(EMOTIONS)})
    assert card.input_size == 48 and card.unsure_below == 0.0 and not card.mirror_average
    assert card.calibration.shown is None and card.crop_geometry == {}


@pytest.mark.parametrize("change, field", [
    (lambda c: c["calibration"].update(unsure_below="high"), "card.calibration.unsure_below"),
    (lambda c: c["crop_geometry"]["yunet"].update(nose=[0.5]), "card.crop_geometry.yunet.nose"),
    (lambda c: c["metrics"].pop("accuracy"), "'accuracy'"),
    (lambda c: c.update(colour="blue"), "'colour'"),
])
def test_a_wrong_card_names_its_file_and_field(tmp_path, change, field):
    data = json.loads(MODEL.with_suffix(".json").read_text())
    change(data)
    path = tmp_path / "emotion_int8.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CardError) as err:
        ModelCard.read(path)
    assert str(path) in str(err.value) and field in str(err.value)
