"""The GraphQL documents of the profile page: the whole profile and every chart series in one
request, each section's mutations (built from its KindSpec), the documents a directive can
join, and the FHIR export."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from carnet_web import api
from carnet_web.state.profile.charts import CHART_KINDS
from carnet_web.state.profile.sections import KINDS, KindSpec

_COMMON_FIELDS: Final = "id recordedAt imported author { isPatient professional { profession } }"
_SERIES_FIELDS: Final = "kind unit unitLabel points { at value diastolic measurementId }"


def _profile_document() -> str:
    lists = "\n".join(
        f"    {spec.profile_field} {{ {_COMMON_FIELDS} {spec.selection} }}" for spec in KINDS
    )
    series = "\n".join(
        f"  series{kind}: measurements(kind: {kind}) {{ {_SERIES_FIELDS} }}"
        for kind in CHART_KINDS
    )
    return f"query Profile {{\n  profile {{\n{lists}\n  }}\n{series}\n}}"


#: My whole profile and every chart series, in one request.
PROFILE: Final = api.operation(_profile_document())

FHIR_EVERYTHING: Final = api.operation("query FhirEverything { fhirEverything }")

DOCUMENT_CHOICES_QUERY: Final = api.operation(
    """
    query ProfileDocumentChoices($first: Int!) {
      documents(first: $first) { edges { node { id title clinicalDate } } }
    }
    """
)

DIRECTIVE_DOCUMENT: Final = api.operation(
    """
    query ProfileDirectiveDocument($id: ID!) {
      document(id: $id) { id title }
    }
    """
)


def _result_selection(spec: KindSpec) -> str:
    extra = ""
    if spec.key == "measurement":
        extra = " ... on MeasurementOutOfRange { field minimum maximum unit }"
    return (f"__typename ... on {spec.type_name} {{ id }} ... on Error {{ message }} "
            f"... on InvalidProfileInput {{ field }}{extra}")


_DELETED_SELECTION: Final = "__typename ... on EntryDeleted { id } ... on Error { message }"


@dataclasses.dataclass(frozen=True)
class KindOperations:
    save_field: str  # the mutation's field in `data`, when adding
    update_field: str  # ... when editing ('' for single kinds: save replaces)
    delete_field: str
    add: Any
    update: Any  # None for single kinds
    delete: Any


def _operations(spec: KindSpec) -> KindOperations:
    name = spec.mutation
    selection = _result_selection(spec)
    if spec.single:
        return KindOperations(
            save_field=f"set{name}",
            update_field="",
            delete_field=f"delete{name}",
            add=api.operation(
                f"mutation Set{name}($input: {spec.input_type}!) "
                f"{{ set{name}(input: $input) {{ {selection} }} }}"
            ),
            update=None,
            delete=api.operation(
                f"mutation Delete{name} {{ delete{name} {{ {_DELETED_SELECTION} }} }}"
            ),
        )
    return KindOperations(
        save_field=f"add{name}",
        update_field=f"update{name}",
        delete_field=f"delete{name}",
        add=api.operation(
            f"mutation Add{name}($input: {spec.input_type}!) "
            f"{{ add{name}(input: $input) {{ {selection} }} }}"
        ),
        update=api.operation(
            f"mutation Update{name}($id: ID!, $input: {spec.input_type}!) "
            f"{{ update{name}(id: $id, input: $input) {{ {selection} }} }}"
        ),
        delete=api.operation(
            f"mutation Delete{name}($id: ID!) "
            f"{{ delete{name}(id: $id) {{ {_DELETED_SELECTION} }} }}"
        ),
    )


OPERATIONS_BY_KIND: Final = {spec.key: _operations(spec) for spec in KINDS}
