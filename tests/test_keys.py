"""Envelope encryption: wrapping, per-patient data keys, the segmented stream, rotation."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from backend.keys import cli as keys_cli
from backend.keys import services
from backend.keys.models import DataKey
from backend.keys.services import (
    HEADER_BYTES,
    SEGMENT_BYTES,
    SEGMENT_CT_BYTES,
    CorruptContent,
    MasterKeyMissing,
)
from backend.settings import decode_master_key, generate_master_key
from tests.factories import create_patient

ROOT = Path(__file__).resolve().parent.parent
KEY_A, KEY_B, KEY_C = (generate_master_key() for _ in range(3))
DOC = b"document:42"


async def aiter_chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i: i + size]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def encrypt(key: bytes, data: bytes, *, chunk: int = 10_000, associated: bytes = DOC
                  ) -> bytes:
    return await collect(services.encrypt_chunks(key, aiter_chunks(data, chunk),
                                                 associated=associated))


async def decrypt(key: bytes, data: bytes, *, chunk: int = 7_777, associated: bytes = DOC
                  ) -> bytes:
    return await collect(services.decrypt_chunks(key, aiter_chunks(data, chunk),
                                                 associated=associated))


def segments(stream: bytes) -> tuple[bytes, list[bytes]]:
    body = stream[HEADER_BYTES:]
    return stream[:HEADER_BYTES], [body[i: i + SEGMENT_CT_BYTES]
                                   for i in range(0, len(body), SEGMENT_CT_BYTES)]


def join(header: bytes, parts: Iterable[bytes]) -> bytes:
    return header + b"".join(parts)


# --- wrapping ----------------------------------------------------------------------------------


def test_wrap_round_trip_and_binding():
    master, data_key = os.urandom(32), os.urandom(32)
    wrapped = services.wrap(master, data_key, person_id=7)
    assert len(wrapped) == 12 + 32 + 16 and data_key not in wrapped
    assert services.unwrap(master, wrapped, person_id=7) == data_key
    with pytest.raises(CorruptContent):
        services.unwrap(master, wrapped, person_id=8)  # moved onto another patient's row
    with pytest.raises(CorruptContent):
        services.unwrap(os.urandom(32), wrapped, person_id=7)
    tampered = bytearray(wrapped)
    tampered[20] ^= 1
    with pytest.raises(CorruptContent):
        services.unwrap(master, bytes(tampered), person_id=7)
    assert services.wrap(master, data_key, person_id=7) != wrapped  # fresh nonce


def test_master_key_id_is_a_short_stable_fingerprint():
    master = decode_master_key(KEY_A)
    fingerprint = services.master_key_id(master)
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert fingerprint == services.master_key_id(master)
    assert fingerprint != services.master_key_id(decode_master_key(KEY_B))
    assert fingerprint not in (master.hex(), KEY_A) and fingerprint not in master.hex()


# --- data keys ---------------------------------------------------------------------------------


async def test_data_key_is_created_once_and_reused(settings, clean):
    account = await create_patient()
    key_id, key = await services.data_key_for(settings, account.person_id)
    assert len(key) == 32
    assert await services.data_key_for(settings, account.person_id) == (key_id, key)
    assert await services.data_key_by_id(settings, key_id) == key
    rows = await DataKey.filter(person_id=account.person_id)
    assert len(rows) == 1 and rows[0].active
    assert rows[0].master_key_id == services.master_key_id(settings.master_key())
    assert key not in bytes(rows[0].wrapped_key)
    other = await create_patient()
    other_id, other_key = await services.data_key_for(settings, other.person_id)
    assert other_id != key_id and other_key != key
    with pytest.raises(services.DataKeyNotFound):
        await services.data_key_by_id(settings, 999_999)
    with pytest.raises(services.DataKeyNotFound):
        await services.data_key_for(settings, 999_999)


async def test_concurrent_first_uses_create_one_key(settings, clean):
    account = await create_patient()
    results = await asyncio.gather(
        *(services.data_key_for(settings, account.person_id) for _ in range(10)))
    assert len(set(results)) == 1
    assert await DataKey.filter(person_id=account.person_id).count() == 1


async def test_key_row_swapped_to_another_patient_does_not_unwrap(settings, clean):
    first, second = await create_patient(), await create_patient()
    first_id, _ = await services.data_key_for(settings, first.person_id)
    second_id, _ = await services.data_key_for(settings, second.person_id)
    stolen = await DataKey.get(id=first_id)
    await DataKey.filter(id=second_id).update(wrapped_key=stolen.wrapped_key)
    with pytest.raises(CorruptContent):
        await services.data_key_by_id(settings, second_id)


# --- content -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 2 * SEGMENT_BYTES,
             1_000_003])
async def test_stream_round_trip(size):
    key = os.urandom(32)
    data = os.urandom(size)
    stream = await encrypt(key, data)
    assert len(stream) == services.encrypted_size(size)
    assert await decrypt(key, stream) == data
    # Any chunking of the ciphertext decrypts, down to single bytes and up to one chunk.
    assert await decrypt(key, stream, chunk=len(stream) or 1) == data
    if size <= SEGMENT_BYTES + 1:
        assert await decrypt(key, stream, chunk=1) == data
    assert services.decrypt_bytes(key, stream, associated=DOC) == data
    assert services.decrypt_bytes(key, services.encrypt_bytes(key, data, associated=DOC),
                                  associated=DOC) == data


async def test_input_chunking_does_not_change_the_format():
    key = os.urandom(32)
    data = os.urandom(3 * SEGMENT_BYTES + 5)
    for chunk in (1_000, SEGMENT_BYTES, len(data)):
        stream = await encrypt(key, data, chunk=chunk)
        header, parts = segments(stream)
        assert [len(p) for p in parts] == [SEGMENT_CT_BYTES] * 3 + [5 + 16]
        assert await decrypt(key, stream) == data


async def test_ciphertext_hides_the_plaintext():
    key = os.urandom(32)
    data = b"Compte rendu: diabete de type 2, HbA1c 7.2%. " * 5_000
    stream = await encrypt(key, data)
    assert b"diabete" not in stream and b"HbA1c" not in stream
    assert await encrypt(key, data) != stream  # fresh salt and nonce prefix
    message = services.encrypt_bytes(key, b"Bonjour docteur, resultat positif",
                                     associated=b"message:1")
    assert b"docteur" not in message and b"positif" not in message


async def test_tampering_is_detected():
    key = os.urandom(32)
    data = os.urandom(3 * SEGMENT_BYTES + 100)
    stream = await encrypt(key, data)
    header, parts = segments(stream)
    assert len(parts) == 4

    flipped = bytearray(stream)
    flipped[HEADER_BYTES + SEGMENT_CT_BYTES + 10] ^= 0x01
    header_flipped = bytearray(stream)
    header_flipped[10] ^= 0x01  # in the salt: another stream key
    magic = b"XXXX" + stream[4:]
    tampered = {
        "flipped byte": bytes(flipped),
        "flipped tag": stream[:-1] + bytes([stream[-1] ^ 1]),
        "flipped header": bytes(header_flipped),
        "bad magic": magic,
        "last segment dropped": join(header, parts[:-1]),
        "last segment truncated": stream[:-1],
        "cut mid-segment": stream[: HEADER_BYTES + SEGMENT_CT_BYTES + 500],
        "middle segment dropped": join(header, [parts[0], parts[2], parts[3]]),
        "segments swapped": join(header, [parts[1], parts[0], parts[2], parts[3]]),
        "segment duplicated": join(header, [parts[0], parts[0], *parts[1:]]),
        "data appended": stream + parts[-1],
        "header only": header,
        "short header": stream[:10],
        "empty": b"",
    }
    for what, bad in tampered.items():
        with pytest.raises(CorruptContent):
            await decrypt(key, bad)
            pytest.fail(what)
    with pytest.raises(CorruptContent):
        await decrypt(key, stream, associated=b"document:43")
    with pytest.raises(CorruptContent):
        await decrypt(os.urandom(32), stream)
    other_header, _ = segments(await encrypt(key, data))
    with pytest.raises(CorruptContent):
        await decrypt(key, join(other_header, parts))  # segments spliced into another stream


async def test_streaming_keeps_memory_bounded():
    """Encrypting a large stream yields segment by segment: never the whole file at once."""
    key = os.urandom(32)
    produced = 0
    biggest = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(64):  # 16 MiB in 256 KiB chunks
            produced += 256 * 1024
            yield b"\0" * (256 * 1024)

    plain = 0
    async for segment in services.decrypt_chunks(
            key, services.encrypt_chunks(key, source(), associated=DOC), associated=DOC):
        biggest = max(biggest, len(segment))
        plain += len(segment)
        assert produced - plain <= 256 * 1024 + 2 * SEGMENT_BYTES  # consumed as it goes
    assert plain == 16 * 1024 * 1024 and biggest == SEGMENT_BYTES


# --- rotation ----------------------------------------------------------------------------------


async def test_rotation_rewraps_keys_and_old_content_still_decrypts(settings, clean):
    under_a = settings.model_copy(update={"carnet_master_key": KEY_A,
                                          "carnet_previous_master_keys": []})
    under_b = settings.model_copy(update={"carnet_master_key": KEY_B,
                                          "carnet_previous_master_keys": []})
    under_c = settings.model_copy(update={"carnet_master_key": KEY_C,
                                          "carnet_previous_master_keys": []})
    patients = [await create_patient() for _ in range(3)]
    stored = []
    for account in patients:
        key_id, key = await services.data_key_for(under_a, account.person_id)
        content = f"dossier de {account.person_id}".encode() * 1000
        stored.append((key_id, content, await encrypt(key, content)))
    before = {row.id: bytes(row.wrapped_key) for row in await DataKey.all()}

    with pytest.raises(MasterKeyMissing):  # B alone cannot read keys wrapped by A yet
        await services.data_key_by_id(under_b, stored[0][0])

    assert await services.rotate(under_a, decode_master_key(KEY_B), batch_size=2) == 3
    rows = await DataKey.all()
    assert {row.master_key_id for row in rows} == {
        services.master_key_id(decode_master_key(KEY_B))}
    assert all(row.rewrapped_at is not None for row in rows)
    assert all(bytes(row.wrapped_key) != before[row.id] for row in rows)
    for key_id, content, ciphertext in stored:
        key = await services.data_key_by_id(under_b, key_id)
        assert await decrypt(key, ciphertext) == content  # content never re-encrypted
    assert (await services.data_key_for(under_b, patients[0].person_id))[0] == stored[0][0]

    assert await services.rotate(under_b, decode_master_key(KEY_B)) == 0  # idempotent
    assert await services.rotate(under_a, decode_master_key(KEY_B)) == 0

    with pytest.raises(MasterKeyMissing, match="CARNET_PREVIOUS_MASTER_KEYS"):
        await services.data_key_by_id(under_c, stored[0][0])
    with pytest.raises(MasterKeyMissing):
        await services.data_key_for(under_c, patients[0].person_id)
    with pytest.raises(MasterKeyMissing):  # C cannot unwrap B's keys: nothing is touched
        await services.rotate(under_c, decode_master_key(KEY_A))
    assert {row.master_key_id for row in await DataKey.all()} == {
        services.master_key_id(decode_master_key(KEY_B))}


async def test_previous_master_keys_unwrap_during_a_rotation(settings, clean):
    under_a = settings.model_copy(update={"carnet_master_key": KEY_A,
                                          "carnet_previous_master_keys": []})
    switched = settings.model_copy(update={"carnet_master_key": KEY_B,
                                           "carnet_previous_master_keys": [KEY_C, KEY_A]})
    old, new = await create_patient(), await create_patient()
    old_id, old_key = await services.data_key_for(under_a, old.person_id)
    assert await services.data_key_by_id(switched, old_id) == old_key
    new_id, _ = await services.data_key_for(switched, new.person_id)
    assert (await DataKey.get(id=new_id)).master_key_id == services.master_key_id(
        decode_master_key(KEY_B))  # new keys are always wrapped by the current master key
    # The catch-up run after every process switched: only A's keys move.
    assert await services.rotate(switched, decode_master_key(KEY_B)) == 1
    assert await services.data_key_by_id(
        settings.model_copy(update={"carnet_master_key": KEY_B}), old_id) == old_key


# --- CLI ---------------------------------------------------------------------------------------


def keys_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    keys_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_cli_generate_prints_a_valid_key(capsys):
    assert keys_cli.cmd_keys(keys_args("keys", "generate")) == 0
    assert len(decode_master_key(capsys.readouterr().out.strip())) == 32


def test_cli_rotate_refuses_bad_input(capsys, monkeypatch):
    assert keys_cli.cmd_keys(keys_args("keys", "rotate")) == 2
    assert "--new-key-stdin" in capsys.readouterr().err
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("not a key\n"))
    assert keys_cli.cmd_keys(keys_args("keys", "rotate", "--new-key-stdin")) == 2
    err = capsys.readouterr().err
    assert "new master key" in err and "not a key" not in err


CLI_SCRIPT = """
import argparse, sys
from backend.keys import cli
parser = argparse.ArgumentParser()
cli.add_parsers(parser.add_subparsers(dest="command", required=True))
sys.exit(cli.cmd_keys(parser.parse_args(sys.argv[1:])))
"""


def run_keys_cli(env: dict[str, str], *argv: str, stdin: str = ""
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI_SCRIPT, *argv], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


async def test_cli_rotate_end_to_end(settings, server_env, clean):
    account = await create_patient()
    key_id, key = await services.data_key_for(settings, account.person_id)
    ciphertext = await encrypt(key, b"ordonnance")
    result = await asyncio.to_thread(run_keys_cli, server_env, "keys", "rotate",
                                     "--new-key-stdin", stdin=KEY_B + "\n")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == {"rewrapped": 1, "resealed": 2,  # the patient's person and account rows
                   "checkpointsResigned": 0, "checkpointsNotResigned": 0,  # no access log yet
                   "newMasterKeyId": services.master_key_id(decode_master_key(KEY_B))}
    assert "CARNET_PREVIOUS_MASTER_KEYS" in result.stderr and KEY_B not in result.stderr
    under_b = settings.model_copy(update={"carnet_master_key": KEY_B})
    assert await decrypt(await services.data_key_by_id(under_b, key_id), ciphertext) == (
        b"ordonnance")
    # Unknown master key: a clear message, exit 2, nothing changed.
    env = dict(server_env, CARNET_MASTER_KEY=KEY_C)
    result = await asyncio.to_thread(run_keys_cli, env, "keys", "rotate", "--new-key-stdin",
                                     stdin=KEY_A + "\n")
    assert result.returncode == 2 and "CARNET_PREVIOUS_MASTER_KEYS" in result.stderr
    assert (await DataKey.get(id=key_id)).master_key_id == out["newMasterKeyId"]


def test_one_cipher_per_stream_reused_and_never_across_data_keys():
    cache = services._AeadCache(max_entries=4)
    data_key, other_key = os.urandom(32), os.urandom(32)
    with patch_cache(cache):
        sealed = services.encrypt_bytes(data_key, b"Compte rendu", associated=b"document:1")
        header = sealed[:HEADER_BYTES]
        first = cache.get(data_key, header)
        assert cache.get(data_key, header) is first  # reused: no key derived again
        assert cache.get(other_key, header) is not first  # same header, other data key
        assert services.decrypt_bytes(data_key, sealed, associated=b"document:1") == \
            b"Compte rendu"
        with pytest.raises(CorruptContent):  # a cached cipher never opens for another key
            services.decrypt_bytes(other_key, sealed, associated=b"document:1")
        # The cache holds no data key, and shows none.
        assert all(data_key not in key and other_key not in key for key in cache._entries)
        assert data_key.hex() not in repr(cache) and "Compte" not in repr(cache)


def test_the_cipher_cache_is_bounded_least_recently_used_first():
    cache = services._AeadCache(max_entries=3)
    data_key = os.urandom(32)
    headers = [services.encrypt_bytes(data_key, b"x", associated=b"a")[:HEADER_BYTES]
               for _ in range(5)]
    kept = cache.get(data_key, headers[0])
    for header in headers[1:]:
        cache.get(data_key, headers[0])  # used again: stays
        cache.get(data_key, header)
    assert len(cache) == 3
    assert cache.get(data_key, headers[0]) is kept
    # The caches' keys are MACs under a per-process secret: another cache maps elsewhere.
    assert services._AeadCache(3).key_of(data_key, headers[0]) != \
        cache.key_of(data_key, headers[0])


class patch_cache:  # noqa: N801 - used as a context manager
    def __init__(self, cache: services._AeadCache) -> None:
        self.cache = cache

    def __enter__(self) -> services._AeadCache:
        self.previous, services._aead_cache = services._aead_cache, self.cache
        return self.cache

    def __exit__(self, *exc: object) -> None:
        services._aead_cache = self.previous
