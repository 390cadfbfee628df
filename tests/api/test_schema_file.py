"""schema.graphql is what the code serves, and keeps the contract's names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLObjectType

from velro_graphql.api.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_schema_matches_the_code(schema: Any) -> None:
    printed = schema.as_str() + "\n"
    assert SCHEMA_FILE.read_text() == printed, (
        "schema.graphql is stale: run `velro-graphql export-schema > schema.graphql`"
    )


def test_contract_names_are_present(schema: Any) -> None:
    sdl = schema.as_str()
    for name in (
        "me: User!",
        "models: [Model!]!",
        "projects(first: Int = null, after: String = null, last: Int = null, before: String ="
        " null, filter: ProjectFilter = null, orderBy: ProjectOrder = null): ProjectConnection!",
        "generations(first: Int = null, after: String = null, last: Int = null, before: String"
        " = null, filter: GenerationFilter = null, orderBy: GenerationOrder = null):"
        " GenerationConnection!",
        "setGenerationFavorite(input: SetGenerationFavoriteInput!):",
        "moveGeneration(input: MoveGenerationInput!): MoveGenerationPayload!",
        "estimatedCompletionAt: DateTime",
        "project(id: ID!): Project",
        "generation(id: ID!): Generation",
        "node(id: ID!): Node",
        "creditTransactions(",
        "createProject(input: CreateProjectInput!): CreateProjectPayload!",
        "updateProject(input: UpdateProjectInput!): UpdateProjectPayload!",
        "deleteProject(input: DeleteProjectInput!): DeleteProjectPayload!",
    ):
        assert name in sdl, name


def test_every_type_and_field_has_a_description() -> None:
    """A frontend reads the schema: nothing in it is left unexplained."""
    schema = build_schema()._schema
    missing = []
    for name, kind in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, field in kind.fields.items() if not field.description]
    assert missing == []
