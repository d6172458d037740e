"""GraphQL abuse limits that cost linear time, the time budget, the size cap, bounded caches."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from graphql import parse

from backend.announcements import services as announcements
from backend.graphql_documents import ByteBudgetLRU, CachedDocument
from backend.graphql_limits import DeadlineSignal
from backend.schema import build_schema
from backend.settings import load_settings
from tests.servers import carnet_server

# Fragment bodies fanned out 2^k times: plain, with an alias, with depth.
FAN_BODIES = [
    "...F{n} ...F{n}",
    "a: __typename ...F{n} ...F{n}",
    "announcements {{ id }} ...F{n} ...F{n}",
    "announcements {{ ...F{n} }} b: announcements {{ ...F{n} }}",
]


def fan_out(k: int, body: str, on: str = "Query") -> str:
    """`fragment F0 { ...F1 ...F1 } fragment F1 { ...F2 ...F2 } ...`: 2^k paths."""
    frags = [f"fragment F{i} on {on} {{ {body.format(n=i + 1)} }}" for i in range(k)]
    frags.append(f"fragment F{k} on {on} {{ __typename }}")
    return "query Fan { ...F0 } " + " ".join(frags)


def _rule_class(schema):
    (rule,) = [r for r in schema.documents.rules if r.__name__ == "CarnetDocumentLimitsRule"]
    return rule


@pytest.mark.parametrize("body", FAN_BODIES)
async def test_fragment_fan_out_costs_linear_time(body):
    schema = build_schema()
    rule = _rule_class(schema)
    for k in range(1, 41):
        query = fan_out(k, body)
        started = time.perf_counter()
        result = await schema.execute(query)
        elapsed = time.perf_counter() - started
        # Refused or answered, quickly (generous bound: the old limiters took 2 s at k=17
        # and never returned at k=30).
        assert elapsed < 1.0, (k, body, elapsed)
        assert result.errors or result.data is not None
        # Work proportional to the document: each fragment's selections visited once.
        selections = sum(1 for _ in query.split("...")) + query.count("{")
        assert 0 < rule.last_visits <= 2 * selections, (k, rule.last_visits, selections)


async def test_fan_out_limits_still_refuse_what_they_refused():
    schema = build_schema()
    aliased = await schema.execute(fan_out(30, "a: __typename ...F{n} ...F{n}"))
    assert "Too many aliases" in aliased.errors[0].message
    deep = await schema.execute(fan_out(20, "announcements {{ ...F{n} }}"))
    assert "exceeds maximum operation depth of 12" in deep.errors[0].message


async def test_fragment_cycles_are_refused_not_followed():
    schema = build_schema()
    result = await schema.execute(
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    )
    assert result.data is None
    assert any("Cannot spread fragment" in e.message for e in result.errors)


def _nested(levels: int, leaf: str) -> str:
    return "announcements { " * levels + leaf + " }" * levels


async def _depth_refused(schema, query: str) -> bool:
    errors = (await schema.execute(query)).errors or []
    return any("exceeds maximum operation depth of 12" in e.message for e in errors)


async def test_depth_through_fragments_counts_like_inline_selections():
    schema = build_schema()
    assert not await _depth_refused(schema, "{ " + _nested(12, "id") + " }")
    assert await _depth_refused(schema, "{ " + _nested(13, "id") + " }")
    fragment = "{{ {outer} }} fragment D on Announcement {{ {inner} }}"
    assert not await _depth_refused(
        schema, fragment.format(outer=_nested(6, "...D"), inner=_nested(6, "id")))
    assert await _depth_refused(
        schema, fragment.format(outer=_nested(6, "...D"), inner=_nested(7, "id")))


def test_deadline_signal_fires_by_itself_at_field_boundaries():
    signal = DeadlineSignal(0.01)
    assert signal.aborted is False
    time.sleep(0.02)
    assert signal.aborted is True
    assert "budget" in str(signal.reason)


async def test_an_operation_over_its_time_budget_is_stopped(
    client: httpx.AsyncClient, app, monkeypatch
):
    schema = _app_schema(app)
    monkeypatch.setattr(schema, "time_budget", 0.2)
    finished = asyncio.Event()

    async def slow(first: int = 5):
        await asyncio.sleep(5)
        finished.set()
        return []

    monkeypatch.setattr(announcements, "latest", slow)
    started = time.perf_counter()
    response = await client.post("/graphql", json={"query": "{ announcements { id } }"})
    assert time.perf_counter() - started < 3
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "TIMEOUT", error
    assert "budget" in error["message"]
    assert not finished.is_set()  # the resolver was cancelled, not left running


def _app_schema(app):
    (route,) = [r for r in app.routes if getattr(r, "path", None) == "/graphql"
                and hasattr(r, "methods")]
    return route.endpoint.schema


# --- Item 6: size cap and caches bounded by bytes ---------------------------------------------


async def test_an_oversize_query_is_refused_before_parsing(
    client: httpx.AsyncClient, app, monkeypatch
):
    assert load_settings().graphql_max_query_bytes == 64 * 1024  # the default
    documents = _app_schema(app).documents
    limit = 8 * 1024  # smaller here: httpx refuses URLs over 64 KiB
    monkeypatch.setattr(documents, "max_query_bytes", limit)
    documents.cache.clear()
    parsed = []
    monkeypatch.setattr(documents.cache, "put", lambda *args: parsed.append(args))
    for response in (
        await client.post("/graphql", json={"query": "{ platform { name } } #" + "x" * limit}),
        await client.get("/graphql", params={"query": "{ platform { name } }" + " " * limit}),
        await client.post("/graphql", json={"query": "{ platform { name } } #" + "é" * limit}),
    ):
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_LARGE", error
        assert "Query too large" in error["message"] and str(limit) in error["message"]
    assert parsed == []  # refused before parsing
    ok = await client.post("/graphql", json={"query": "{ platform { name } }"})
    assert ok.json()["data"]["platform"]["name"] == "Carnet"


async def test_comment_padding_counts_against_the_size_cap():
    schema = build_schema(load_settings(graphql_max_query_bytes=4096))
    many_comments = "{ platform { name } }" + "\n#c" * 1500  # 4.5 KB of comments
    result = await schema.execute(many_comments)
    assert result.errors and "Query too large" in result.errors[0].message


async def test_document_cache_stays_within_its_byte_budget():
    schema = build_schema(load_settings(graphql_cache_bytes=6 * 1024 * 1024))
    cache = schema.documents.cache
    # Distinct queries of ~60 KB (comment-padded, under the 64 KiB cap) and dense ones (near
    # the token limit): the old 512-entry caches would have kept them all (~60 MB here).
    for i in range(40):
        padded = f"query Q{i} {{ __typename }} # " + "x" * 60_000
        assert (await schema.execute(padded)).errors is None
        dense = f"query D{i} {{ " + " ".join(["... on Query { __typename }"] * 300) + " }"
        assert (await schema.execute(dense)).errors is None
        assert cache.bytes <= cache.budget
    assert 0 < len(cache) < 80
    assert cache.get("query D39 { " + " ".join(["... on Query { __typename }"] * 300) + " }")


def test_the_cost_estimate_covers_the_memory_a_document_holds():
    import tracemalloc

    schema = build_schema()
    documents = schema.documents
    for query in (
        "query D { " + " ".join(["... on Query { __typename }"] * 300) + " }",
        "query P { __typename } # " + "x" * 60_000,
        "query S($id: ID!) { announcement(id: $id) { id title } }",
    ):
        tracemalloc.start()
        entry = documents.parse(query)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert held <= entry.cost, (query[:20], held, entry.cost)


async def test_repeated_queries_hit_the_cache(client: httpx.AsyncClient, app):
    cache = _app_schema(app).documents.cache
    query = "query Same { platform { name } }"
    await client.post("/graphql", json={"query": query})
    hits = cache.hits
    await client.post("/graphql", json={"query": query})
    assert cache.hits == hits + 1


def test_byte_budget_lru_evicts_least_recently_used_and_skips_huge_entries():
    doc = parse("{ a }")
    lru = ByteBudgetLRU(1000)
    for key in "abcd":
        lru.put(key, CachedDocument(document=doc, cost=240))
    assert lru.get("a") is not None  # a is now the most recent
    lru.put("e", CachedDocument(document=doc, cost=240))
    assert lru.get("b") is None and lru.get("a") is not None
    assert lru.bytes <= 1000
    lru.put("huge", CachedDocument(document=doc, cost=600))
    assert lru.get("huge") is None


# --- Item 2 end to end: a real server keeps answering /healthz ---------------------------------


def test_healthz_stays_fast_while_fan_out_queries_are_sent(migrated, server_env):
    queries = [fan_out(k, body) for k in (20, 30, 40) for body in FAN_BODIES]
    with carnet_server(server_env) as base:
        stop = threading.Event()
        failures: list[str] = []

        def attack() -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while not stop.is_set():
                    for query in queries:
                        response = http.post("/graphql", json={"query": query})
                        if response.status_code != 200:
                            failures.append(response.text[:200])

        attackers = [threading.Thread(target=attack) for _ in range(4)]
        for thread in attackers:
            thread.start()
        try:
            time.sleep(0.3)
            with httpx.Client(base_url=base, timeout=10) as http:
                slowest = 0.0
                for _ in range(20):
                    started = time.perf_counter()
                    assert http.get("/healthz").status_code == 200
                    slowest = max(slowest, time.perf_counter() - started)
        finally:
            stop.set()
            for thread in attackers:
                thread.join(timeout=30)
        assert not failures, failures[:3]
        assert slowest < 1.0, slowest
