from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from velro_graphql.errors import BadUserInput
from velro_graphql.services.catalog import Model, Parameter, load_catalog, validate_parameters

# Credits per unit: fal's published price in proportion, 1 credit = $0.005 (docs/pricing.md).
DOMAIN_COSTS = {
    "fal-ai/flux-pro/v1.1-ultra": (12, "IMAGE"),
    "fal-ai/flux-pro/kontext/max": (16, "IMAGE"),
    "fal-ai/imagen4/preview/ultra": (12, "IMAGE"),
    "fal-ai/flux-pro": (10, "IMAGE"),
    "fal-ai/stable-cascade": (6, "IMAGE"),
    "fal-ai/aura-flow": (6, "IMAGE"),
    "fal-ai/veo3": (80, "VIDEO_SECOND"),
    "fal-ai/minimax/hailuo-02/pro/text-to-video": (16, "VIDEO_SECOND"),
    "fal-ai/kling-video/v2.1/master/text-to-video": (56, "VIDEO_SECOND"),
    "fal-ai/wan-pro/text-to-video": (160, "GENERATION"),
    # Image to video: fal prices each like its text-to-video sibling.
    "fal-ai/kling-video/v2.1/master/image-to-video": (56, "VIDEO_SECOND"),
    "fal-ai/minimax/hailuo-02/pro/image-to-video": (16, "VIDEO_SECOND"),
    "fal-ai/wan-pro/image-to-video": (160, "GENERATION"),
}
DEPRECATED = {"fal-ai/luma-dream-machine", "fal-ai/runway-gen3/turbo/image-to-video"}
VIDEO = {
    "fal-ai/veo3",
    "fal-ai/minimax/hailuo-02/pro/text-to-video",
    "fal-ai/kling-video/v2.1/master/text-to-video",
    "fal-ai/wan-pro/text-to-video",
    "fal-ai/kling-video/v2.1/master/image-to-video",
    "fal-ai/minimax/hailuo-02/pro/image-to-video",
    "fal-ai/wan-pro/image-to-video",
    *DEPRECATED,
}


def shipped(model_id: str) -> Model:
    return next(model for model in load_catalog() if model.id == model_id)


def make_parameter(**overrides: object) -> dict[str, object]:
    parameter: dict[str, object] = {
        "name": "steps",
        "type": "integer",
        "required": False,
        "default": 28,
        "description": "Steps.",
        "min": 1,
        "max": 50,
    }
    return {**parameter, **overrides}


def make_enum_parameter(**overrides: object) -> dict[str, object]:
    parameter: dict[str, object] = {
        "name": "size",
        "type": "enum",
        "required": False,
        "default": "small",
        "description": "Size.",
        "values": ["small", "large"],
    }
    return {**parameter, **overrides}


def make_entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": "fal-ai/test",
        "name": "Test",
        "media_type": "image",
        "credits": 10,
        "deprecated": False,
        "typical_duration_seconds": 10,
        "deadline_seconds": 600,
        "accepts_negative_prompt": False,
        "accepts_image": False,
        "requires_image": False,
        "parameters": [make_parameter(), make_enum_parameter()],
    }
    return {**entry, **overrides}


def without(fields: dict[str, object], key: str) -> dict[str, object]:
    return {name: value for name, value in fields.items() if name != key}


def write_catalog(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    path = tmp_path / "models.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_shipped_catalog_has_the_domain_models_and_costs() -> None:
    models = {model.id: model for model in load_catalog()}

    assert len(load_catalog()) == 15
    assert set(models) == set(DOMAIN_COSTS) | DEPRECATED
    assert {
        key: (m.credits, m.pricing.unit) for key, m in models.items() if not m.deprecated
    } == DOMAIN_COSTS
    assert {key for key, m in models.items() if m.deprecated} == DEPRECATED
    assert all(models[key].credits > 0 for key in DEPRECATED)


def test_shipped_catalog_media_types_and_deadlines() -> None:
    for model in load_catalog():
        expected = "video" if model.id in VIDEO else "image"
        assert model.media_type == expected, model.id
        assert model.deadline_seconds == (1800 if expected == "video" else 600), model.id


def test_shipped_catalog_keeps_prompt_inputs_out_of_parameters() -> None:
    for model in load_catalog():
        names = {parameter.name for parameter in model.parameters}
        assert not names & {"prompt", "negative_prompt", "image_url"}, model.id


def test_validate_fills_defaults_and_omits_null_ones() -> None:
    validated = validate_parameters(shipped("fal-ai/flux-pro/v1.1-ultra"), {})

    assert validated["aspect_ratio"] == "16:9"
    assert validated["num_images"] == 1
    assert validated["output_format"] == "jpeg"
    assert validated["safety_tolerance"] == "2"
    assert "seed" not in validated


def test_validate_treats_none_as_no_parameters() -> None:
    model = shipped("fal-ai/flux-pro")

    assert validate_parameters(model, None) == validate_parameters(model, {})


def test_validate_keeps_given_values_without_mutating_the_input() -> None:
    given: dict[str, object] = {"seed": 2**32 - 1, "guidance_scale": 5, "image_size": "square"}
    original = copy.deepcopy(given)

    validated = validate_parameters(shipped("fal-ai/flux-pro"), given)

    assert given == original
    assert validated["seed"] == 2**32 - 1
    assert validated["guidance_scale"] == 5
    assert validated["image_size"] == "square"
    assert validated["num_inference_steps"] == 28


def test_validate_treats_explicit_null_as_absent() -> None:
    validated = validate_parameters(shipped("fal-ai/flux-pro"), {"seed": None, "num_images": None})

    assert "seed" not in validated
    assert validated["num_images"] == 1


@pytest.mark.parametrize(
    ("model_id", "parameters", "field"),
    [
        ("fal-ai/flux-pro", {"num_images": True}, "num_images"),
        ("fal-ai/flux-pro", {"num_images": 2.0}, "num_images"),
        ("fal-ai/flux-pro", {"num_images": "2"}, "num_images"),
        ("fal-ai/flux-pro", {"num_images": 0}, "num_images"),
        ("fal-ai/flux-pro", {"num_images": 5}, "num_images"),
        ("fal-ai/flux-pro", {"seed": -1}, "seed"),
        ("fal-ai/flux-pro", {"seed": 2**64}, "seed"),
        ("fal-ai/flux-pro", {"guidance_scale": 0.5}, "guidance_scale"),
        ("fal-ai/flux-pro", {"guidance_scale": 20.5}, "guidance_scale"),
        ("fal-ai/flux-pro", {"guidance_scale": float("nan")}, "guidance_scale"),
        ("fal-ai/flux-pro", {"guidance_scale": False}, "guidance_scale"),
        ("fal-ai/flux-pro", {"image_size": "huge"}, "image_size"),
        ("fal-ai/flux-pro", {"enable_safety_checker": 1}, "enable_safety_checker"),
        ("fal-ai/flux-pro/v1.1-ultra", {"aspect_ratio": "5:4"}, "aspect_ratio"),
        ("fal-ai/flux-pro/v1.1-ultra", {"safety_tolerance": 2}, "safety_tolerance"),
        ("fal-ai/kling-video/v2.1/master/text-to-video", {"duration": 5}, "duration"),
        ("fal-ai/kling-video/v2.1/master/text-to-video", {"cfg_scale": 1.01}, "cfg_scale"),
        ("fal-ai/veo3", {"duration": "5s"}, "duration"),
        ("fal-ai/veo3", {"seed": 1, "num_images": 1}, "num_images"),
    ],
)
def test_validate_rejects_bad_values_naming_the_field(
    model_id: str, parameters: dict[str, object], field: str
) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_parameters(shipped(model_id), parameters)

    assert raised.value.field == f"parameters.{field}"
    assert f"'{field}'" in raised.value.message


def test_validate_rejects_unknown_parameter_listing_allowed_ones() -> None:
    model = shipped("fal-ai/kling-video/v2.1/master/text-to-video")

    with pytest.raises(BadUserInput) as raised:
        validate_parameters(model, {"prompt": "a cat"})

    assert raised.value.field == "parameters.prompt"
    assert "duration, aspect_ratio, cfg_scale" in raised.value.message


def test_validate_rejects_missing_required_and_checks_strings() -> None:
    style = Parameter("style", "string", True, None, "Style.")
    model = Model("fal-ai/test", "Test", "image", 1, False, 5, 600, False, False, False, (style,))

    with pytest.raises(BadUserInput) as missing:
        validate_parameters(model, {})
    with pytest.raises(BadUserInput) as wrong:
        validate_parameters(model, {"style": 3})

    assert missing.value.field == wrong.value.field == "parameters.style"
    assert validate_parameters(model, {"style": "noir"}) == {"style": "noir"}


def test_load_catalog_accepts_a_well_formed_file(tmp_path: Path) -> None:
    (model,) = load_catalog(write_catalog(tmp_path, [make_entry()]))

    assert model.id == "fal-ai/test"
    assert model.parameters == (
        Parameter("steps", "integer", False, 28, "Steps.", None, 1.0, 50.0),
        Parameter("size", "enum", False, "small", "Size.", ("small", "large")),
    )


def one_parameter(parameter: dict[str, object]) -> list[dict[str, object]]:
    return [make_entry(parameters=[parameter])]


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([make_entry(), make_entry(name="Again")], "fal-ai/test"),
        (one_parameter(make_parameter(type="float")), "'float'"),
        (one_parameter(make_parameter(default=51)), "'steps'"),
        (one_parameter(make_parameter(default=0)), "'steps'"),
        (one_parameter(make_parameter(default=2.0)), "'steps'"),
        (one_parameter(make_parameter(default=True)), "'steps'"),
        (one_parameter(make_parameter(min=60)), "'steps'"),
        (one_parameter(make_parameter(max="50")), "'steps'"),
        (one_parameter(make_parameter(required=True)), "'steps'"),
        (one_parameter(make_parameter(typo=1)), "typo"),
        (one_parameter(without(make_parameter(), "default")), "default"),
        (one_parameter(make_enum_parameter(default="medium")), "'size'"),
        (one_parameter(make_enum_parameter(values=[])), "'size'"),
        (one_parameter(make_enum_parameter(values=["small", 1])), "'size'"),
        (one_parameter(make_enum_parameter(min=1)), "min"),
        (one_parameter(without(make_enum_parameter(), "values")), "values"),
        ([make_entry(parameters=[make_parameter(), make_parameter()])], "'steps'"),
        ([make_entry(credits="10")], "credits"),
        ([make_entry(credits=True)], "credits"),
        ([make_entry(deprecated=None)], "deprecated"),
        ([make_entry(media_type="audio")], "audio"),
        ([make_entry(deadline_seconds=5)], "fal-ai/test"),
        ([without(make_entry(), "accepts_image")], "accepts_image"),
        ([make_entry(requires_image=True)], "requires_image"),
        ([make_entry(parameters={})], "parameters"),
    ],
)
def test_load_catalog_rejects_a_malformed_file_naming_the_entry(
    tmp_path: Path, entries: list[dict[str, object]], named: str
) -> None:
    with pytest.raises(ValueError, match="catalog") as raised:
        load_catalog(write_catalog(tmp_path, entries))

    assert "fal-ai/test" in str(raised.value)
    assert named in str(raised.value)


def test_load_catalog_rejects_a_file_that_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": []}), encoding="utf-8")

    with pytest.raises(ValueError, match="array"):
        load_catalog(path)
