"""Streebog and GOST R 34.10-2012 on both backends: RFC 6986/7091 vectors and round trips."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing.backend import Backend
from signing.gost_asn1 import GostPrivateKey, parse_spki
from signing.gost_python import PythonPrivateKey


@pytest.fixture(scope="module")
def vectors(conformance: Path) -> dict[str, Any]:
    return json.loads((conformance / "gost-vectors.json").read_text(encoding="utf-8"))


@pytest.fixture(params=["engine", "python"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue("engine" if request.param == "engine" else "pyback")  # type: ignore[no-any-return]


def test_streebog_vectors(backend: Backend, vectors: dict[str, Any]) -> None:
    for case in vectors["streebog"]:
        msg = bytes.fromhex(case["message_hex"])
        assert backend.digest("streebog256", msg).hex() == case["streebog256_hex"]
        assert backend.digest("streebog512", msg).hex() == case["streebog512_hex"]
        assert base64.b64encode(backend.digest("streebog256", msg)).decode() == case["streebog256_b64"]
        if "streebog256_hex_as_printed_in_rfc" in case:
            assert backend.digest("streebog256", msg)[::-1].hex() == case["streebog256_hex_as_printed_in_rfc"]


def test_streebog_chunks_equal_one_shot(engine: Backend) -> None:
    data = bytes(range(256)) * 300
    assert engine.digest_chunks("streebog256", [data[:1000], data[1000:]]) == engine.digest("streebog256", data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_engine_and_python_streebog_agree(engine: Backend, pyback: Backend, data: bytes) -> None:
    assert engine.digest("streebog256", data) == pyback.digest("streebog256", data)


def test_rfc7091_signature_verifies_and_variants_fail(backend: Backend, vectors: dict[str, Any]) -> None:
    w = vectors["gost3410_2012_256_example"]["wire_encodings"]
    key = backend.load_public_key(base64.b64decode(w["subject_public_key_info_der_b64"]))
    digest = bytes.fromhex(w["hash_bytes_hex"])
    sig = bytes.fromhex(w["signature_value_hex"])
    assert key.verify_digest(digest, sig)
    assert not key.verify_digest(digest, sig[32:] + sig[:32])  # r and s swapped
    assert not key.verify_digest(digest[::-1], sig)  # hash bytes reversed


def test_rfc7091_known_answer_with_nonce(vectors: dict[str, Any]) -> None:
    ex = vectors["gost3410_2012_256_example"]
    w = ex["wire_encodings"]
    key = PythonPrivateKey(GostPrivateKey("1.2.643.7.1.1.1.1", "1.2.643.2.2.35.0", "1.2.643.7.1.1.2.2", int(ex["d"], 16)))
    sig = key.sign_digest(bytes.fromhex(w["hash_bytes_hex"]), nonce=int(ex["k"], 16))
    assert sig.hex() == w["signature_value_hex"]
    assert sig[32:].hex() == ex["r"] and sig[:32].hex() == ex["s"]
    assert parse_spki(key.public_key_info()).point_le.hex() == w["public_key_octets_hex"]


@pytest.mark.parametrize("size,paramset", [(32, "A"), (32, "TCA"), (64, "A")])
def test_engine_and_python_keys_interoperate(engine: Backend, pyback: Backend, size: int, paramset: str) -> None:
    ek = engine.generate(size, paramset)
    pk = pyback.load_private_key(ek.pkcs8(), size)
    assert pk.public_key_info() == ek.public_key_info()
    alg = "streebog256" if size == 32 else "streebog512"
    digest = engine.digest(alg, b"interop")
    assert engine.load_public_key(ek.public_key_info()).verify_digest(digest, pk.sign_digest(digest))
    assert pyback.load_public_key(ek.public_key_info()).verify_digest(digest, ek.sign_digest(digest))


def test_python_generated_key_loads_in_engine(engine: Backend, pyback: Backend) -> None:
    pk = pyback.generate(32, "A")
    ek = engine.load_private_key(pk.pkcs8(), 32)
    assert ek.public_key_info() == pk.public_key_info()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0, max_value=10**6))
def test_sign_verify_round_trip_and_any_bit_flip_fails(engine: Backend, data: bytes, flip: int) -> None:
    key = _engine_key(engine)
    pub = engine.load_public_key(key.public_key_info())
    digest = engine.digest("streebog256", data)
    sig = key.sign_digest(digest)
    assert pub.verify_digest(digest, sig)
    bad = bytearray(sig)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    assert not pub.verify_digest(digest, bytes(bad))
    other = engine.digest("streebog256", data + b"\0")
    assert not pub.verify_digest(other, sig)


_KEYS: dict[int, Any] = {}


def _engine_key(engine: Backend) -> Any:
    if id(engine) not in _KEYS:
        _KEYS[id(engine)] = engine.generate(32, "A")
    return _KEYS[id(engine)]


def test_python_backend_sign_round_trip(pyback: Backend) -> None:
    key = pyback.generate(32, "A")
    pub = pyback.load_public_key(key.public_key_info())
    digest = pyback.digest("streebog256", b"fallback")
    sig = key.sign_digest(digest)
    assert len(sig) == 64
    assert pub.verify_digest(digest, sig)
    assert not pub.verify_digest(pyback.digest("streebog256", b"fallbacK"), sig)
