"""Redis Cluster (REDIS_URL=redis+cluster://...) against a real local cluster of 3 masters:
settings, key slots, the key-value store, the identity flows (login challenge and code,
sessions and their revocation, rate limits), the sharded pub/sub broker (across instances,
through reconnections and slot moves) and two real server processes sharing the cluster."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from backend.broker import RESYNC, ClusterBroker, Delivery, RedisBroker
from backend.identity import codes, errors, matching, services
from backend.kv import MAX_CONNECTIONS, CodeCheck, RedisKeyValueStore, cluster_client
from backend.runtime import Runtime
from backend.settings import SettingsError, load_settings
from tests.conftest import REDIS_PREFIX, make_settings
from tests.factories import PASSWORD, create_patient, create_professional
from tests.identity_helpers import ME, VERIFY, code_from, login, sign_in
from tests.messaging_helpers import START, patient_identity
from tests.servers import PrivateRedisCluster, carnet_server

SESSIONS = "query { mySessions { id current } }"
REVOKE = """mutation R($id: ID!) { revokeSession(id: $id) { __typename
  ... on SessionRevoked { id } ... on Error { message } } }"""


def slot(key: str) -> int:
    return key_slot(key.encode())


async def delete_cluster_namespace(client: RedisCluster) -> None:
    keys = [key async for key in client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000)]
    if keys:
        await client.delete(*keys)


async def cluster_keys(client: RedisCluster) -> list[str]:
    return [key.removeprefix(REDIS_PREFIX)
            async for key in client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000)]


@pytest.fixture(scope="module")
async def cluster_runtime(app, redis_cluster: PrivateRedisCluster) -> AsyncIterator[Runtime]:
    """The app's runtime as `Runtime.from_settings` builds it for a redis+cluster:// URL."""
    base = app.state.runtime
    settings = base.settings.model_copy(update={"redis_url": redis_cluster.url})
    runtime = Runtime.from_settings(settings, notifier=base.notifier, blobs=base.blobs)
    await runtime.start()
    yield runtime
    await runtime.broker.aclose()
    await runtime.kv.aclose()


@pytest.fixture
async def on_cluster(app, cluster_runtime: Runtime, clean) -> AsyncIterator[Runtime]:
    """The in-process app keeps its keys and announces on the cluster for one test."""
    base = app.state.runtime
    saved = base.kv, base.broker
    client = cluster_runtime.kv.client
    await delete_cluster_namespace(client)
    base.kv, base.broker = cluster_runtime.kv, cluster_runtime.broker
    try:
        yield base
    finally:
        base.kv, base.broker = saved
        await delete_cluster_namespace(client)


@pytest.fixture
async def cluster(redis_cluster: PrivateRedisCluster) -> AsyncIterator[RedisCluster]:
    client = cluster_client(redis_cluster.url)
    await client.initialize()
    yield client
    await delete_cluster_namespace(client)
    await client.aclose()


# --- settings and client selection ----------------------------------------------------------


def test_cluster_urls_are_accepted_and_braces_in_the_prefix_refused():
    for url in ("redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
                "rediss+cluster://carnet:secret@[::1]:7000,redis-b"):
        assert load_settings(redis_url=url).redis_url == url
    for prefix in ("carnet{x}:", "carnet}:", "{carnet}:"):
        with pytest.raises(SettingsError, match=r"REDIS_KEY_PREFIX: must not contain \{ or \}"):
            load_settings(redis_key_prefix=prefix)
    with pytest.raises(SettingsError, match="REDIS_URL: a Redis Cluster has only database 0"
                       ) as refused:
        load_settings(redis_url="redis+cluster://:s3cret-pw@10.0.0.1:7000/2")
    assert "s3cret-pw" not in str(refused.value)  # never echoed
    with pytest.raises(SettingsError, match="REDIS_URL: .*port"):
        load_settings(redis_url="redis+cluster://10.0.0.1:port")


async def test_runtime_chooses_the_cluster_client_and_sharded_broker(migrated, app):
    base = app.state.runtime
    on_cluster = Runtime.from_settings(
        make_settings(migrated.database_url, "redis+cluster://127.0.0.1:7000"),
        notifier=base.notifier, blobs=base.blobs)
    assert isinstance(on_cluster.kv, RedisKeyValueStore)
    assert isinstance(on_cluster.kv.client, RedisCluster)
    assert isinstance(on_cluster.broker, ClusterBroker)
    await on_cluster.kv.aclose()  # never connected: nothing was started
    assert isinstance(base.broker, RedisBroker)
    assert not isinstance(base.kv.client, RedisCluster)


# --- key slots ------------------------------------------------------------------------------


def test_keys_used_together_share_a_hash_slot():
    challenge = "Zk3_challenge-id"
    together = [codes._code_key(challenge), codes._tries_key(challenge),
                codes._meta_key(challenge)]
    assert len({slot(REDIS_PREFIX + key) for key in together}) == 1
    account_keys = [codes._current_key(42, purpose) for purpose in ("login", "password")]
    assert len({slot(REDIS_PREFIX + key) for key in account_keys}) == 1
    assert len({slot(REDIS_PREFIX + key) for key in matching._keys(7)}) == 1
    # Different owners land anywhere: the tag, not the prefix, chooses the slot.
    assert slot(codes._code_key(challenge)) == slot(challenge)


async def test_a_patients_keys_carry_their_owners_hash_tag(on_cluster, notifier):
    """The keys a login with one wrong code writes, as found on the cluster: every key but the
    per-address counters and the sessions (each found from its own id) has a hash tag; the
    identifier's counters, the challenge's records and the account's keys each share one."""
    rt = on_cluster
    account = await create_patient(email="slots@example.fr")
    caller = services.Caller(address="198.51.100.7")
    with pytest.raises(errors.InvalidCredentials):
        await services.start_login(rt, identifier=account.identifier, password="wrong-one-1",
                                   channel=None, caller=caller)
    challenge = await services.start_login(rt, identifier=account.identifier, password=PASSWORD,
                                           channel=None, caller=caller)
    with pytest.raises(errors.InvalidCode):
        await services.verify_login(rt, challenge_id=challenge.id, code="000000", caller=caller)
    by_tag: dict[str, set[str]] = {}
    for key in await cluster_keys(rt.kv.client):
        match = re.search(r"\{([^}]*)\}", key)
        if match is None:
            assert key.startswith(("rate:", "session:")), key
            continue
        by_tag.setdefault(match.group(1), set()).add(key.split("{")[0])
        assert slot(REDIS_PREFIX + key) == slot(match.group(1))
    identifier_tag = services._identifier_tag(rt, account.identifier)
    assert {"failures:", "checks:"} <= by_tag[identifier_tag]
    assert {"otp:code:", "otp:tries:", "otp:meta:"} <= by_tag[challenge.id]
    assert {"otp:current:", "codes-sent:"} <= by_tag[str(account.id)]


# --- the key-value store ----------------------------------------------------------------------


async def test_key_value_store_on_the_cluster(cluster):
    kv = RedisKeyValueStore(cluster, prefix=REDIS_PREFIX)
    # The code check script touches two keys: one tag, one slot.
    await kv.set("otp:code:{c1}", "good", ttl=5)
    results = await asyncio.gather(*(kv.check_code("otp:code:{c1}", "otp:tries:{c1}", "good",
                                                   max_tries=5) for _ in range(20)))
    assert [r[0] for r in results].count(CodeCheck.ACCEPTED) == 1
    await kv.set("otp:code:{c2}", "good", ttl=5)
    for left in (2, 1):
        assert await kv.check_code("otp:code:{c2}", "otp:tries:{c2}", "bad",
                                   max_tries=3) == (CodeCheck.REJECTED, left)
    assert await kv.check_code("otp:code:{c2}", "otp:tries:{c2}", "bad",
                               max_tries=3) == (CodeCheck.BURNED, 0)
    assert await kv.check_code("otp:code:{c2}", "otp:tries:{c2}", "good",
                               max_tries=3) == (CodeCheck.BURNED, 0)
    # Counters are atomic, with their window from the first hit.
    values = await asyncio.gather(*(kv.incr("hits:{a}", ttl=30) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))
    assert 0 < (await kv.ttl("hits:{a}") or 0) <= 30
    # More commands at once than connections: they wait for one (no MaxConnectionsError).
    burst = await asyncio.gather(*(kv.incr("burst:{b}") for _ in range(3 * MAX_CONNECTIONS)))
    assert sorted(burst) == list(range(1, 3 * MAX_CONNECTIONS + 1))
    assert len(cluster.get_node_from_key(REDIS_PREFIX + "burst:{b}")._connections) <= (
        MAX_CONNECTIONS)
    # A delete of keys on several masters, and GETDEL exactly once.
    names = [f"k{i}" for i in range(12)]
    assert len({cluster.get_node_from_key(REDIS_PREFIX + n).name for n in names}) == 3
    for name in names:
        await kv.set(name, "v")
    assert await kv.delete(*names, "missing") == 12
    await kv.set("once", "x")
    assert (await asyncio.gather(*(kv.getdel("once") for _ in range(10)))).count("x") == 1
    await kv.ping()


# --- identity flows through the app ------------------------------------------------------------


async def test_login_code_and_sessions_on_the_cluster(on_cluster, gql, notifier):
    await create_patient(email="cluster@example.fr")
    first = await sign_in(gql, notifier, "cluster@example.fr", PASSWORD)
    second = await sign_in(gql, notifier, "cluster@example.fr", PASSWORD)
    sessions = (await gql(SESSIONS, token=second))["data"]["mySessions"]
    assert len(sessions) == 2
    first_id = next(s["id"] for s in (await gql(SESSIONS, token=first))["data"]["mySessions"]
                    if s["current"])
    revoked = await gql(REVOKE, {"id": first_id}, token=second)
    assert revoked["data"]["revokeSession"] == {"__typename": "SessionRevoked", "id": first_id}
    assert (await gql(ME, token=first))["data"]["me"] is None
    assert (await gql(ME, token=second))["data"]["me"]["identifier"] == "cluster@example.fr"
    out = await gql("mutation { logoutEverywhere { sessionsClosed } }", token=second)
    assert out["data"]["logoutEverywhere"]["sessionsClosed"] == 1
    assert (await gql(ME, token=second))["data"]["me"] is None
    # Everything lives on the cluster, nothing on the single Redis of the other tests.
    assert any(k.startswith("otp:current:") for k in await cluster_keys(on_cluster.kv.client))


async def test_wrong_codes_burn_the_challenge_on_the_cluster(on_cluster, gql, notifier):
    await create_patient(email="burn@example.fr")
    challenge_id, code = await login(gql, notifier, "burn@example.fr", PASSWORD)
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(4):
        result = (await gql(VERIFY, {"challengeId": challenge_id, "code": wrong}))["data"]
        lefts.append(result["verifyLoginCode"]["attemptsLeft"])
    assert lefts == [4, 3, 2, 1]
    fifth = await gql(VERIFY, {"challengeId": challenge_id, "code": wrong})
    assert fifth["data"]["verifyLoginCode"]["__typename"] == "TooManyAttempts"
    right = await gql(VERIFY, {"challengeId": challenge_id, "code": code})
    assert right["data"]["verifyLoginCode"]["__typename"] == "TooManyAttempts"


async def test_a_challenge_id_with_braces_is_just_unknown(on_cluster, gql):
    # Client input never reaches a key name as a hash tag: no error, the usual answer.
    for challenge_id in ("x{y}", "}", "{"):
        answer = await gql(VERIFY, {"challengeId": challenge_id, "code": "123456"})
        assert answer["data"]["verifyLoginCode"]["__typename"] == "CodeExpired", answer


async def test_rate_limits_on_the_cluster(on_cluster, client, notifier):
    limit = on_cluster.settings.login_rate_per_address
    fields = " ".join(
        f'a{i}: login(identifier: "x{i}@example.fr", password: "whatever-123") {{ __typename }}'
        for i in range(15))
    kinds = []
    for _ in range(limit // 15 + 2):
        body = (await client.post("/graphql", json={"query": f"mutation {{ {fields} }}"})).json()
        kinds += [body["data"][f"a{i}"]["__typename"] for i in range(15)]
    assert kinds[:limit] == ["InvalidCredentials"] * limit
    assert set(kinds[limit:]) == {"RateLimited"}


async def test_failures_per_account_and_address_lock_that_address_on_the_cluster(
        on_cluster, notifier):
    rt = Runtime(on_cluster.settings.model_copy(update={"login_rate_per_address": 100_000}),
                 on_cluster.kv, on_cluster.broker, notifier)
    account = await create_patient(email="locked@example.fr")
    limit = rt.settings.login_max_failures_per_address
    outcomes = []
    for _ in range(limit + 2):
        try:
            await services.start_login(rt, identifier=account.identifier,
                                       password="wrong-guess-1", channel=None,
                                       caller=services.Caller(address="198.51.100.66"))
        except (errors.InvalidCredentials, errors.TemporarilyLocked) as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["InvalidCredentials"] * limit + ["TemporarilyLocked"] * 2
    caller = services.Caller(address="192.0.2.10")  # the owner, elsewhere, gets in
    challenge = await services.start_login(rt, identifier=account.identifier, password=PASSWORD,
                                           channel=None, caller=caller)
    _, record = await services.verify_login(rt, challenge_id=challenge.id,
                                            code=code_from(notifier.last().text), caller=caller)
    assert record.account_id == account.id


# --- the sharded pub/sub broker -----------------------------------------------------------------


async def _next(sub, timeout: float = 5.0) -> Delivery:
    return await asyncio.wait_for(sub.get(), timeout)


async def _next_message(sub, timeout: float = 5.0) -> Delivery:
    while True:
        delivery = await _next(sub, timeout)
        if not delivery.resync:
            return delivery


def _channels_on_every_master(client: RedisCluster, count: int = 3) -> dict[str, list[str]]:
    """Channel names grouped by the master owning their slot, `count` per master."""
    found: dict[str, list[str]] = {node.name: [] for node in client.get_primaries()}
    i = 0
    while any(len(names) < count for names in found.values()):
        name = f"room:{i}"
        owner = client.get_node_from_key(REDIS_PREFIX + name).name
        if len(found[owner]) < count:
            found[owner].append(name)
        i += 1
    return found


@pytest.fixture
async def brokers(cluster, redis_cluster) -> AsyncIterator[tuple[ClusterBroker, ClusterBroker]]:
    """Two brokers on two clients: what two app instances hold."""
    other = cluster_client(redis_cluster.url)
    pair = (ClusterBroker(cluster, prefix=REDIS_PREFIX),
            ClusterBroker(other, prefix=REDIS_PREFIX))
    for broker in pair:
        await broker.start()
    for broker in pair:
        await asyncio.wait_for(broker.connected.wait(), 10)
    yield pair
    for broker in pair:
        await broker.aclose()
    await other.aclose()


async def test_publish_on_one_instance_reaches_subscribers_on_another(brokers, cluster):
    publisher, subscriber = brokers
    channels = [name for names in _channels_on_every_master(cluster).values()
                for name in names]
    subs = [subscriber.subscribe(name) for name in channels]
    for sub in subs:
        await sub.__aenter__()
    try:
        for sub in subs:
            assert await _next(sub) == RESYNC  # confirmed by the master owning its slot
        for i in range(5):
            for name in channels:
                assert await publisher.publish(name, f"{name}/{i}")
        for name, sub in zip(channels, subs, strict=True):
            assert [(await _next_message(sub)).data for _ in range(5)] == [
                f"{name}/{i}" for i in range(5)]
        await asyncio.sleep(0.1)
        assert all(sub._queue.empty() for sub in subs)  # each got its own channel only
    finally:
        for sub in subs:
            await sub.__aexit__(None, None, None)
    assert subscriber.subscriber_count() == 0


async def test_readers_resubscribe_after_their_connections_are_killed(brokers, cluster):
    publisher, subscriber = brokers
    channels = [names[0] for names in _channels_on_every_master(cluster, 1).values()]
    async with contextlib_subscriptions(subscriber, channels) as subs:
        before = subscriber.reconnections
        for node in cluster.get_primaries():
            await cluster.execute_command("CLIENT KILL", "TYPE", "pubsub", target_nodes=node)
        for sub in subs:  # told to catch up once subscribed again
            assert (await _next(sub, timeout=15)).resync
        assert subscriber.reconnections >= before + 3
        for name in channels:
            assert await publisher.publish(name, "after")
        for sub in subs:
            assert (await _next_message(sub)).data == "after"


async def test_attaching_while_the_last_subscriber_detaches_still_gives_a_resync(brokers):
    _, broker = brokers
    first, second = broker.subscribe("flip"), broker.subscribe("flip")
    await first.__aenter__()
    assert await _next(first) == RESYNC
    async with broker._routing:  # both wait for the routing lock, in this order
        leaving = asyncio.create_task(first.__aexit__(None, None, None))
        await asyncio.sleep(0)
        joining = asyncio.create_task(second.__aenter__())
        await asyncio.sleep(0)
    await leaving
    await joining
    try:
        assert await _next(second) == RESYNC  # the channel stayed subscribed: confirmed anew
    finally:
        await second.__aexit__(None, None, None)


class contextlib_subscriptions:  # noqa: N801 - used like a function
    """Enter several subscriptions; each has had its first RESYNC."""

    def __init__(self, broker: ClusterBroker, channels: list[str]) -> None:
        self.subs = [broker.subscribe(name) for name in channels]

    async def __aenter__(self):
        for sub in self.subs:
            await sub.__aenter__()
            assert await _next(sub) == RESYNC
        return self.subs

    async def __aexit__(self, *exc: object) -> None:
        for sub in self.subs:
            await sub.__aexit__(None, None, None)


async def _node_ids(cluster: RedisCluster) -> dict[str, str]:
    return {node.name: await cluster.execute_command("CLUSTER MYID", target_nodes=node)
            for node in cluster.get_primaries()}


async def _move_slot(cluster: RedisCluster, slot_number: int, source: str, target: str) -> None:
    """Move an empty slot from one master to another (what resharding does)."""
    nodes = {node.name: node for node in cluster.get_primaries()}
    ids = await _node_ids(cluster)
    assert await cluster.execute_command("CLUSTER COUNTKEYSINSLOT", slot_number,
                                         target_nodes=nodes[source]) == 0
    await cluster.execute_command("CLUSTER SETSLOT", slot_number, "IMPORTING", ids[source],
                                  target_nodes=nodes[target])
    await cluster.execute_command("CLUSTER SETSLOT", slot_number, "MIGRATING", ids[target],
                                  target_nodes=nodes[source])
    for node in (nodes[target], nodes[source],
                 *(n for name, n in nodes.items() if name not in (source, target))):
        await cluster.execute_command("CLUSTER SETSLOT", slot_number, "NODE", ids[target],
                                      target_nodes=node)


async def test_a_channel_follows_its_slot_to_another_master(brokers, cluster):
    """Resharding: the old master drops the channel (sunsubscribe); the broker reads the slot
    map again, subscribes on the new master and asks subscribers to catch up."""
    publisher, subscriber = brokers
    name = "moving:1"
    key_slot_number = cluster.keyslot(REDIS_PREFIX + name)
    source = cluster.get_node_from_key(REDIS_PREFIX + name).name
    target = next(n.name for n in cluster.get_primaries() if n.name != source)
    async with contextlib_subscriptions(subscriber, [name]) as [sub]:
        before = subscriber.reroutes
        await _move_slot(cluster, key_slot_number, source, target)
        try:
            assert (await _next(sub, timeout=15)).resync
            assert subscriber.reroutes == before + 1
            assert await publisher.publish(name, "on the new master")
            assert (await _next_message(sub)).data == "on the new master"
        finally:
            await _move_slot(cluster, key_slot_number, target, source)
        assert (await _next(sub, timeout=15)).resync  # and back again
        assert await publisher.publish(name, "home again")
        assert (await _next_message(sub)).data == "home again"


async def test_a_subscription_refused_with_moved_is_routed_again(brokers, cluster):
    """The broker's slot map is outdated (the slot moved while it had no channel there): the
    old master answers MOVED, and the channel ends up subscribed on the right one."""
    publisher, subscriber = brokers
    name = "stale:1"
    key_slot_number = cluster.keyslot(REDIS_PREFIX + name)
    source = cluster.get_node_from_key(REDIS_PREFIX + name).name
    target = next(n.name for n in cluster.get_primaries() if n.name != source)
    before = subscriber.reroutes
    await _move_slot(cluster, key_slot_number, source, target)
    try:
        async with contextlib_subscriptions(subscriber, [name]) as [sub]:
            assert subscriber.reroutes == before + 1
            assert await publisher.publish(name, "found")
            assert (await _next_message(sub)).data == "found"
    finally:
        await _move_slot(cluster, key_slot_number, target, source)


async def test_the_broker_survives_a_master_restart(brokers, cluster, redis_cluster):
    """A master stops and comes back: publishing to its slots fails softly meanwhile, then its
    reader reconnects, subscribes again and asks the subscribers to catch up."""
    publisher, subscriber = brokers
    index = 0
    port = redis_cluster.ports[index][0]
    name = next(names[0] for node, names in _channels_on_every_master(cluster, 1).items()
                if node.endswith(f":{port}"))
    async with contextlib_subscriptions(subscriber, [name]) as [sub]:
        redis_cluster.stop_node(index)
        try:
            assert await publisher.publish(name, "during") is False
        finally:
            redis_cluster.start_node(index)
        assert (await _next(sub, timeout=20)).resync
        await asyncio.wait_for(subscriber.connected.wait(), 20)
        assert await publisher.publish(name, "after")
        assert (await _next_message(sub)).data == "after"


# --- two real server processes on the cluster ---------------------------------------------------


@pytest.fixture(scope="module")
def cluster_servers(migrated, server_env, redis_cluster):
    # The fallback sweep is out of the way: a closed socket comes from the announcement.
    env = {**server_env, "REDIS_URL": redis_cluster.url, "WS_SESSION_CHECK_SECONDS": "300"}
    with carnet_server(env) as first, carnet_server(env) as second:
        yield first, second


async def test_revoking_through_one_server_closes_the_socket_on_another(
        cluster_servers, on_cluster, gql, notifier):
    from tests.test_sessions import (
        ANNOUNCEMENTS,
        _closed_for_session,
        _operation,
        _session_id,
        _socket,
        _ws_recv,
    )

    server_a, server_b = cluster_servers
    await create_patient(email="wscluster@example.fr")
    victim = await sign_in(gql, notifier, "wscluster@example.fr", PASSWORD)
    revoker = await sign_in(gql, notifier, "wscluster@example.fr", PASSWORD)
    victim_id = await _session_id(gql, victim)
    async with _socket(server_a, victim) as ws:
        await _operation(ws, "1", ANNOUNCEMENTS)
        await _operation(ws, "2", ME)
        assert (await _ws_recv(ws))["payload"]["data"]["me"] is not None
        async with httpx.AsyncClient(base_url=server_b, timeout=20) as http:
            body = (await http.post("/graphql", json={
                "query": REVOKE, "variables": {"id": victim_id}},
                headers={"Authorization": f"Bearer {revoker}"})).json()
        assert body["data"]["revokeSession"] == {"__typename": "SessionRevoked",
                                                 "id": victim_id}
        await _closed_for_session(ws, timeout=5)


async def test_a_message_sent_through_one_server_reaches_a_subscriber_on_another(
        cluster_servers, on_cluster, gql, notifier):
    from tests.test_messaging_live import ADDED, Api, quiet, receive, subscription

    server_a, server_b = cluster_servers
    patient = await create_patient(email="live-cluster-p@example.fr")
    await create_professional(email="live-cluster-d@example.fr")
    p_token = await sign_in(gql, notifier, "live-cluster-p@example.fr", PASSWORD)
    d_token = await sign_in(gql, notifier, "live-cluster-d@example.fr", PASSWORD)
    started = await Api(server_a)(START, {"input": {
        "subject": "Suivi", "body": "m0", "patient": await patient_identity(patient)}}, d_token)
    conversation_id = started["data"]["startConversation"]["conversation"]["id"]
    cursor = started["data"]["startConversation"]["firstMessage"]["cursor"]
    async with subscription(server_a, p_token, ADDED,
                            {"c": conversation_id, "after": cursor}) as ws:
        for i in range(5):
            await Api(server_b).send(conversation_id, f"via b {i}", d_token)
        assert await receive(ws, 5) == [f"via b {i}" for i in range(5)]
        await quiet(ws)
