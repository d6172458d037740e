"""Blob stores: one suite run against the local directory store and a real S3-compatible
server (moto in server mode, on a free local port)."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from backend.records import storage
from backend.records.storage import (
    BlobNotFound,
    InvalidBlobName,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_settings,
    new_blob_name,
)
from backend.settings import load_settings

BUCKET = "carnet-test-blobs"
CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
async def store(request, tmp_path) -> AsyncIterator[storage.BlobStore]:
    if request.param == "local":
        blob_store: storage.BlobStore = LocalBlobStore(tmp_path / "blobs")
    else:
        blob_store = S3BlobStore(BUCKET, endpoint_url=request.getfixturevalue("s3_endpoint"),
                                 region="us-east-1", **CREDENTIALS)
    yield blob_store
    await blob_store.aclose()


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i: i + size]


async def read(store: storage.BlobStore, name: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(name)])


# --- names -------------------------------------------------------------------------------------


def test_generated_names_are_random_and_valid():
    names = {new_blob_name() for _ in range(1000)}
    assert len(names) == 1000
    for name in list(names)[:50]:
        first, second, token = name.split("/")
        assert token.startswith(first + second) and len(token) == 32
        assert storage.check_blob_name(name) == name


BAD_NAMES = [
    "", "..", "../etc/passwd", "/etc/passwd", "ab/cd/../../../etc/passwd", "ab/cd",
    "ab/cd/abcd", "ab/cd/" + "0" * 32,  # fan-out does not match the token
    "AB/CD/abcd" + "0" * 28, "ab/cd/abcd" + "0" * 28 + "/x", "ab\\cd\\abcd" + "0" * 28,
    " ab/cd/abcd" + "0" * 28, "ab/cd/abcd" + "0" * 28 + "\n", "ab//cd/abcd" + "0" * 27,
    "ab/cd/abcd" + "0" * 27 + "g", "./ab/cd/abcd" + "0" * 28,
]


async def test_names_that_were_not_generated_are_refused(store):
    for name in BAD_NAMES:
        with pytest.raises(InvalidBlobName):
            await store.put(name, chunks_of(b"x"))
        with pytest.raises(InvalidBlobName):
            store.open(name)
        with pytest.raises(InvalidBlobName):
            await store.delete(name)
        with pytest.raises(InvalidBlobName):
            await store.exists(name)
    with pytest.raises(InvalidBlobName):
        storage.check_blob_name(None)


# --- behaviour ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 100_000, 5 * MiB + 3])
async def test_round_trip(store, size):
    data = os.urandom(size)
    name = new_blob_name()
    assert not await store.exists(name)
    assert await store.put(name, chunks_of(data)) == size
    assert await store.exists(name)
    assert await read(store, name) == data


async def test_large_stream_round_trip(store):
    """20 MiB + 1 streamed in 64 KiB chunks (multipart on S3: three 8 MiB-or-less parts)."""
    size = 20 * MiB + 1
    block = os.urandom(64 * 1024)

    async def source() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            piece = block[: size - sent]
            sent += len(piece)
            yield piece

    expected = hashlib.sha256()
    async for piece in source():
        expected.update(piece)
    name = new_blob_name()
    assert await store.put(name, source()) == size
    digest = hashlib.sha256()
    largest = 0
    async for chunk in store.open(name):
        digest.update(chunk)
        largest = max(largest, len(chunk))
    assert digest.hexdigest() == expected.hexdigest()
    assert largest <= storage.READ_CHUNK_BYTES
    if isinstance(store, S3BlobStore):
        head = store.client.head_object(Bucket=BUCKET, Key=name)
        assert head["ContentLength"] == size
        assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of 3 parts


async def test_missing_blob(store):
    name = new_blob_name()
    with pytest.raises(BlobNotFound):
        await read(store, name)
    assert not await store.exists(name)


async def test_delete_is_idempotent(store):
    name = new_blob_name()
    await store.put(name, chunks_of(b"compte rendu"))
    await store.delete(name)
    assert not await store.exists(name)
    with pytest.raises(BlobNotFound):
        await read(store, name)
    await store.delete(name)
    await store.delete(new_blob_name())


async def test_failed_upload_leaves_nothing(store, tmp_path):
    name = new_blob_name()

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(9 * MiB)  # past one S3 part: a multipart upload is under way
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put(name, broken())
    assert not await store.exists(name)
    if isinstance(store, LocalBlobStore):
        assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    else:
        uploads = store.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        assert [u for u in uploads if u["Key"] == name] == []


async def test_overwrite_replaces_whole_content(store):
    name = new_blob_name()
    await store.put(name, chunks_of(b"a" * 1000))
    await store.put(name, chunks_of(b"b" * 10))
    assert await read(store, name) == b"b" * 10


async def test_stopping_a_read_early_releases_it(store):
    name = new_blob_name()
    await store.put(name, chunks_of(os.urandom(1 * MiB)))
    reader = store.open(name)
    first = await reader.__anext__()
    assert first
    await reader.aclose()
    assert len(await read(store, name)) == 1 * MiB


# --- local specifics ---------------------------------------------------------------------------


async def test_local_permissions_and_layout(tmp_path):
    old_umask = os.umask(0o022)
    try:
        store = LocalBlobStore(tmp_path / "blobs")
        name = new_blob_name()
        await store.put(name, chunks_of(b"secret"))
    finally:
        os.umask(old_umask)
    path = tmp_path / "blobs" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent, tmp_path / "blobs"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


async def test_local_store_never_leaves_its_root(tmp_path):
    outside = tmp_path / "outside"
    outside.write_bytes(b"not a blob")
    store = LocalBlobStore(tmp_path / "blobs")
    for name in ("../outside", str(outside)):
        with pytest.raises(InvalidBlobName):
            store.open(name)
    assert outside.read_bytes() == b"not a blob"


def test_store_from_settings(tmp_path):
    local = blob_store_from_settings(load_settings(blob_dir=str(tmp_path / "b")))
    assert isinstance(local, LocalBlobStore) and local.root == Path(tmp_path / "b")
    s3 = blob_store_from_settings(load_settings(
        blob_store="s3", s3_bucket="docs", s3_endpoint_url="http://127.0.0.1:9000",
        s3_access_key_id="k", s3_secret_access_key="s"))
    assert isinstance(s3, S3BlobStore) and s3.bucket == "docs"
