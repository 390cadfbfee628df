"""A bounded fuzz run over the HTTP endpoint with operations generated from the schema (valid
ones, and ones with one schema violation) for every query and mutation field, with real and
malformed ids, cursors and JSON mixed into the random values. Each answer must be handled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import graphql
import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes
from hypothesis_graphql import strategies as gql_st

from tests.api.fuzz_app import CATALOG, CURSORS, IDS, MODEL_IDS, TRICKY_STRINGS, assert_handled
from velro_graphql.api.schema import build_schema
from velro_graphql.api.types.relay import to_global_id

SDL = build_schema().as_str()
SCHEMA = graphql.build_schema(SDL)
QUERY_ROOT = SCHEMA.get_type("Query")
MUTATION_ROOT = SCHEMA.get_type("Mutation")
assert isinstance(QUERY_ROOT, graphql.GraphQLObjectType)
assert isinstance(MUTATION_ROOT, graphql.GraphQLObjectType)
PARAMETER_NAMES = sorted({p.name for model in CATALOG for p in model.parameters})
ENUM_VALUES = sorted({v for model in CATALOG for p in model.parameters for v in p.values or ()})

strings = st.one_of(
    st.text(),
    st.sampled_from(MODEL_IDS + ENUM_VALUES + CURSORS + TRICKY_STRINGS),
    st.sampled_from(["\ud800", "a\udfffb", "\ud83d"]),  # lone surrogates
)
ids = st.one_of(
    st.text(),
    st.sampled_from(IDS),
    st.builds(
        to_global_id,
        st.sampled_from(["Project", "Generation", "User", "CreditTransaction", ""]),
        st.one_of(st.uuids(), st.text(max_size=40)),
    ),
).map(nodes.String) | st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int)
json_keys = st.one_of(
    st.sampled_from(PARAMETER_NAMES), st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True)
)
json_leaves = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(nodes.Int),
    st.sampled_from(["9" * 5000, "-" + "1" * 200]).map(lambda v: graphql.IntValueNode(value=v)),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    strings.map(nodes.String),
    st.booleans().map(nodes.Boolean),
    st.just(nodes.Null),
)


def json_object(pairs: list[tuple[str, graphql.ValueNode]]) -> graphql.ValueNode:
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in pairs]
    )


json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(nodes.List),
        st.lists(st.tuples(json_keys, inner), max_size=5, unique_by=lambda p: p[0]).map(
            json_object
        ),
    ),
    max_leaves=12,
)
SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "ID": ids,
    "String": strings.map(nodes.String),
    "JSON": json_values,
    "DateTime": st.one_of(st.datetimes().map(datetime.isoformat), st.text()).map(nodes.String),
}


def takes_arguments(field: graphql.GraphQLField, seen: set[str]) -> bool:
    """Whether a field, or any field under it, has arguments (to violate in NEGATIVE mode)."""
    if field.args:
        return True
    named = graphql.get_named_type(field.type)
    if not isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        return False
    if named.name in seen:
        return False
    seen.add(named.name)
    return any(takes_arguments(child, seen) for child in named.fields.values())


def operations(kind: Any, root: graphql.GraphQLObjectType, field: str) -> st.SearchStrategy[Any]:
    modes = list(Mode) if takes_arguments(root.fields[field], set()) else [Mode.POSITIVE]
    return st.one_of(
        *(kind(SCHEMA, fields=[field], custom_scalars=SCALARS, mode=mode) for mode in modes)
    )


OPERATIONS = {
    **{f"query {f}": operations(gql_st.queries, QUERY_ROOT, f) for f in QUERY_ROOT.fields},
    **{
        f"mutation {f}": operations(gql_st.mutations, MUTATION_ROOT, f)
        for f in MUTATION_ROOT.fields
    },
}
fuzz_settings = hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("root", sorted(OPERATIONS))
@fuzz_settings
@given(data=st.data())
async def test_generated_operations_are_handled(fuzz_http: Any, root: str, data: Any) -> None:
    operation = data.draw(OPERATIONS[root], label="operation")
    body = json.dumps({"query": operation})  # escaped, so lone surrogates can be sent
    headers = {"Content-Type": "application/json"}
    assert_handled(await fuzz_http.post("/graphql", content=body, headers=headers), operation)
