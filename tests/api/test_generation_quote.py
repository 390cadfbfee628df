"""generationQuote: what startGeneration charges, per image and per second, with multipliers."""

from __future__ import annotations

from typing import Any

import pytest

QUOTE = """
query($input: StartGenerationInput!) {
  generationQuote(input: $input) { credits description userErrors { field code } }
}"""
START = """
mutation($input: StartGenerationInput!) {
  startGeneration(input: $input) { generation { id cost } userErrors { field code } }
}"""
ULTRA = "fal-ai/flux-pro/v1.1-ultra"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


@pytest.mark.parametrize(
    ("model_id", "parameters", "credits", "description"),
    [
        (ULTRA, {}, 12, "1 image x 12"),
        (ULTRA, {"num_images": 4}, 48, "4 images x 12"),
        (KLING, {"duration": "5"}, 280, "5 seconds x 56"),
        (KLING, {"duration": "10"}, 560, "10 seconds x 56"),
        ("fal-ai/veo3", {"duration": "4s"}, 320, "4 seconds x 80"),
        (
            "fal-ai/veo3",
            {"duration": "6s", "generate_audio": False},
            240,
            "6 seconds x 80 x 0.5 (generate_audio false)",
        ),
        ("fal-ai/minimax/hailuo-02/pro/text-to-video", {}, 96, "6 seconds x 16"),
        ("fal-ai/wan-pro/text-to-video", {}, 160, "1 generation x 160"),
    ],
)
async def test_the_charge_is_the_quote(
    client: Any, model_id: str, parameters: dict[str, Any], credits: int, description: str
) -> None:
    caller = await client.user("quote@example.com")
    given = {"input": {"modelId": model_id, "prompt": "a kite", "parameters": parameters}}

    quoted = (await client.execute(QUOTE, given, caller=caller)).data["generationQuote"]
    started = (await client.execute(START, given, caller=caller)).data["startGeneration"]

    assert quoted == {"credits": credits, "description": description, "userErrors": []}
    assert started["generation"]["cost"] == credits
    async with client.services.pool.acquire() as conn:
        charge = await conn.fetchrow(
            "SELECT amount, description FROM credit_transactions WHERE kind = 'charge'"
        )
    assert (charge["amount"], charge["description"]) == (-credits, f"{model_id}: {description}")


async def test_a_quote_reports_what_start_would_refuse(client: Any) -> None:
    caller = await client.user("quote@example.com")
    given = {"input": {"modelId": ULTRA, "prompt": "a kite", "parameters": {"num_images": 9}}}

    quoted = (await client.execute(QUOTE, given, caller=caller)).data["generationQuote"]

    assert quoted["credits"] is None
    assert quoted["userErrors"] == [{"field": "parameters.num_images", "code": "BAD_USER_INPUT"}]


async def test_models_show_their_unit_and_default_cost(client: Any) -> None:
    result = await client.execute(
        "{ models { id credits pricing { unit credits multipliers { parameter value factor } } } }"
    )

    veo = next(model for model in result.data["models"] if model["id"] == "fal-ai/veo3")
    assert veo == {
        "id": "fal-ai/veo3",
        "credits": 640,  # the default: 8 seconds with audio
        "pricing": {
            "unit": "VIDEO_SECOND",
            "credits": 80,
            "multipliers": [{"parameter": "generate_audio", "value": "false", "factor": 0.5}],
        },
    }
