"""The OpenSSL 3 provider backend, the choice of backend, key files on every backend, ``gateway signing info``.

Tests that need the provider *as a backend* (GOST keys and signatures in ``gostprov``) are
skipped where the installed provider has only digests (Debian's ``libengine-gost-openssl``
3.0.x); the library context itself (digests, isolation from the default context) is
tested wherever ``gostprov.so`` is installed.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import subprocess
import sys
from ctypes import c_uint
from pathlib import Path
from typing import Any

import pytest

from gateway.app.cli import main
from signing.backend import ENGINE, PROVIDER, PYTHON, Backend, backend_info, get_backend
from signing.gost_engine import engine_error, engine_path, load_engine, openssl_config_path, openssl_env
from signing.gost_provider import GostLibraryContext, ProviderBackend, ProviderUnavailable, load_context
from signing.keys import GostSigner, load_signer, make_pkcs12, pkcs8_to_pem, read_key_material
from signing.libcrypto import lib
from signing.test_pki import TestPKI, issue_certificate
from signing.xmldsig import verify

REPO = Path(__file__).resolve().parents[2]


def _vectors(conformance: Path) -> list[dict[str, Any]]:
    data = json.loads((conformance / "gost-vectors.json").read_text(encoding="utf-8"))
    return list(data["streebog"])


@pytest.fixture(scope="module")
def gost_context() -> GostLibraryContext:
    ctx = load_context()
    if ctx is None:
        pytest.skip("gostprov.so не установлен")
    return ctx


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_GOST_", "OPENSSL_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**base, **(env or {})})  # fmt: skip


def _system_provider() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/ossl-modules/gostprov.so"))
    return found[0] if found else None


# -- the library context --------------------------------------------------------------------------


def test_library_context_digests_match_the_vectors(conformance: Path, gost_context: GostLibraryContext) -> None:
    for v in _vectors(conformance):
        data = bytes.fromhex(v["message_hex"])
        for alg, name in (("streebog256", "md_gost12_256"), ("streebog512", "md_gost12_512")):
            md = gost_context.fetch_digest(name)
            assert md is not None
            out = ctypes.create_string_buffer(64)
            n = c_uint(0)
            assert lib.EVP_Digest(data, len(data), out, ctypes.byref(n), md, None) == 1
            assert out.raw[: n.value].hex() == v[f"{alg}_hex"], (v["name"], alg)
            lib.EVP_MD_free(md)


ISOLATION = """
import ctypes
from signing.libcrypto import lib
from signing.gost_provider import load_context, thread_default
ctx = load_context()
assert ctx is not None
assert ctx.libctx != lib.OSSL_LIB_CTX_get0_global_default()
assert ctx.has("digest", "md_gost12_256")
def default_has():
    md = lib.EVP_MD_fetch(None, b"md_gost12_256", None)
    lib.ERR_clear_error()
    if md:
        lib.EVP_MD_free(md)
    return bool(md)
assert not default_has(), "GOST leaked into the default context"
assert not lib.EVP_get_digestbyname(b"md_gost12_256"), "GOST leaked into the legacy digest table"
with thread_default():
    assert default_has()  # this thread, inside the block only
assert not default_has()
try:
    from signing.gost_provider import ProviderBackend
    b = ProviderBackend()
    key = b.generate(32, "A")
    key.sign_digest(b.digest("streebog256", b"x"))
    print("backend")
except Exception as exc:
    print("no-backend", getattr(exc, "code", type(exc).__name__))
assert not default_has(), "the provider backend leaked GOST into the default context"
print("ok")
"""


def test_provider_context_is_not_the_default_context(gost_context: GostLibraryContext) -> None:
    # a fresh process without the engine and with an empty OpenSSL configuration
    out = _run(ISOLATION, {"OPENSSL_CONF": "/dev/null", "GATEWAY_GOST_PROVIDER": str(gost_context.path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")


def test_a_provider_with_digests_only_is_not_taken_as_the_backend() -> None:
    path = _system_provider()
    if path is None:
        pytest.skip("gostprov.so не установлен")
    code = (
        "from signing.backend import get_backend, backend_info\n"
        "from signing.gost_provider import load_context\n"
        "ctx = load_context()\n"
        "print(ctx.has('keymgmt', 'gost2012_256') and ctx.has('signature', 'gost2012_256'))\n"
        "i = backend_info()\n"
        "print(i.name)\n"
        "print(dict(i.skipped).get('openssl-provider', ''))\n"
    )
    out = _run(code, {"GATEWAY_GOST_PROVIDER": path})
    assert out.returncode == 0, out.stderr
    has_keys, name, why = out.stdout.splitlines()[:3]
    if has_keys == "True":
        assert name == PROVIDER  # a provider with GOST keys and signatures is preferred
    else:  # Debian's 3.0.x provider: hashes, ciphers and MACs only
        assert name in (ENGINE, PYTHON)
        assert "без ключей и подписей" in why


# -- the provider backend ------------------------------------------------------------------------


def test_provider_backend_digests_match_the_vectors(conformance: Path, provider: ProviderBackend) -> None:
    for v in _vectors(conformance):
        data = bytes.fromhex(v["message_hex"])
        assert provider.digest("streebog256", data).hex() == v["streebog256_hex"]
        assert provider.digest("streebog512", data).hex() == v["streebog512_hex"]
        assert provider.digest_chunks("streebog256", [data[:7], data[7:]]).hex() == v["streebog256_hex"]


@pytest.mark.parametrize(("size", "paramset"), [(32, "A"), (32, "B"), (32, "TCA"), (64, "A"), (64, "B")])
def test_provider_and_python_signatures_cross_verify(
    provider: ProviderBackend, pyback: Backend, size: int, paramset: str
) -> None:
    alg = "streebog256" if size == 32 else "streebog512"
    digest = provider.digest(alg, b"cross-check")
    assert digest == pyback.digest(alg, b"cross-check")
    mine = provider.generate(size, paramset)
    signature = mine.sign_digest(digest)
    assert len(signature) == 2 * size
    assert pyback.load_public_key(mine.public_key_info()).verify_digest(digest, signature)
    theirs = pyback.generate(size, paramset)
    assert provider.load_public_key(theirs.public_key_info()).verify_digest(digest, theirs.sign_digest(digest))
    twin = pyback.load_private_key(mine.pkcs8(), size)  # the same key, signed by the other backend
    assert twin.public_key_info() == mine.public_key_info()
    assert provider.load_public_key(mine.public_key_info()).verify_digest(digest, twin.sign_digest(digest))
    assert not provider.load_public_key(mine.public_key_info()).verify_digest(digest, bytes(2 * size))


OTHER_SIDE = """
import json, sys
from signing.backend import get_backend
b = get_backend()
job = json.load(sys.stdin)
out = {"name": b.name, "verified": [], "signatures": []}
for item in job:
    digest = bytes.fromhex(item["digest"])
    pub = b.load_public_key(bytes.fromhex(item["spki"]))
    out["verified"].append(pub.verify_digest(digest, bytes.fromhex(item["signature"])))
    key = b.load_private_key(bytes.fromhex(item["pkcs8"]), item["size"])
    out["signatures"].append(key.sign_digest(digest).hex())
    out.setdefault("digests", []).append(b.digest(item["alg"], b"cross-check").hex())
print(json.dumps(out))
"""


def test_provider_and_engine_signatures_cross_verify(openssl_backend: Backend) -> None:
    """Sign with this process's OpenSSL backend, verify with the other one in another process, and back.

    Provider and engine never share a process (see :mod:`signing.gost_provider`).
    """
    other = "engine" if openssl_backend.name == PROVIDER else "provider"
    if other == "engine" and engine_path() is None:
        pytest.skip("движок GOST не установлен")
    if other == "provider" and not _provider_capable_elsewhere():
        pytest.skip("провайдер GOST без ключей и подписей")
    job, keys = [], []
    for size, paramset in ((32, "A"), (32, "B"), (64, "A")):
        alg = "streebog256" if size == 32 else "streebog512"
        key = openssl_backend.generate(size, paramset)
        digest = openssl_backend.digest(alg, b"cross-check")
        keys.append((key, digest))
        job.append({"size": size, "alg": alg, "digest": digest.hex(), "spki": key.public_key_info().hex(),
                    "pkcs8": key.pkcs8().hex(), "signature": key.sign_digest(digest).hex()})  # fmt: skip
    env = {"GATEWAY_GOST_BACKEND": other}
    if os.environ.get("GATEWAY_GOST_PROVIDER"):
        env["GATEWAY_GOST_PROVIDER"] = os.environ["GATEWAY_GOST_PROVIDER"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_GOST_", "OPENSSL_"))}
    out = subprocess.run([sys.executable, "-c", OTHER_SIDE], input=json.dumps(job), capture_output=True, text=True,
                         timeout=120, cwd=REPO, env={**base, **env})  # fmt: skip
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["name"] == {"engine": ENGINE, "provider": PROVIDER}[other]
    assert res["verified"] == [True, True, True]
    assert res["digests"] == [d.hex() for _, d in keys]
    for (key, digest), sig in zip(keys, res["signatures"], strict=True):
        assert openssl_backend.load_public_key(key.public_key_info()).verify_digest(digest, bytes.fromhex(sig))


def _provider_capable_elsewhere() -> bool:
    out = _run("from signing.gost_provider import ProviderBackend\nProviderBackend()\n",
               {"GATEWAY_GOST_PROVIDER": os.environ["GATEWAY_GOST_PROVIDER"]} if os.environ.get("GATEWAY_GOST_PROVIDER") else {})  # fmt: skip
    return out.returncode == 0


def test_provider_and_engine_do_not_share_a_process(openssl_backend: Backend) -> None:
    if openssl_backend.name == PROVIDER:
        assert load_engine() is None and "провайдер GOST" in (engine_error() or "")
    else:
        with pytest.raises(ProviderUnavailable) as exc:
            ProviderBackend()
        assert exc.value.code == "engine_loaded"


def test_provider_one_shot_sign_and_verify(provider: ProviderBackend, pyback: Backend) -> None:
    key = provider.generate(32, "A")
    pub = provider.load_public_key(key.public_key_info())
    signature = key.sign_data("streebog256", b"document")
    assert pub.verify_data("streebog256", b"document", signature)
    assert not pub.verify_data("streebog256", b"documenT", signature)
    assert pyback.load_public_key(key.public_key_info()).verify_digest(pyback.digest("streebog256", b"document"), signature)


def test_provider_verifies_real_smev_messages_with_the_xcha_paramset(conformance: Path, provider: ProviderBackend) -> None:
    wire = (conformance / "smev-messages" / "SendRequestResponce.wire.xml").read_bytes()
    reports = verify(wire, backend=provider)
    assert reports and all(r.ok for r in reports)
    cert = reports[0].certificate
    assert cert is not None and cert.paramset == "1.2.643.2.2.36.0"
    assert reports[0].signature_ok
    # a changed signed element, and a changed SignatureValue, are refused
    assert not verify(wire.replace(b">requestIsQueued<", b">requestIsQueueD<", 1), backend=provider)[0].ok
    start = wire.index(b"SignatureValue>") + len(b"SignatureValue>")
    flipped = wire[:start] + (b"A" if wire[start:start + 1] != b"A" else b"B") + wire[start + 1:]
    assert not verify(flipped, backend=provider)[0].signature_ok


# -- key files on every backend ------------------------------------------------------------------


@pytest.fixture(params=["provider", "gost_engine", "pyback"])
def any_backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_key_files_round_trip(any_backend: Backend, pki: TestPKI, tmp_path: Path) -> None:
    b = any_backend
    key = b.generate(32, "A")
    cert = issue_certificate(pki.ca, key, {"CN": f"ключ {b.name}", "INN": "570000000000"},
                             not_before=pki.ca.certificate.not_before, not_after=pki.ca.certificate.not_after)  # fmt: skip
    data = b.digest("streebog256", b"key files")
    pem = pkcs8_to_pem(key.pkcs8(), "пароль")
    p12 = make_pkcs12(key.pkcs8(), cert, "пароль", [pki.ca.certificate], name=b.name)
    assert read_key_material(pem, "пароль").pkcs8 == key.pkcs8()
    material = read_key_material(p12, "пароль")
    assert material.pkcs8 == key.pkcs8() and [c.der for c in material.certificates] == [cert.der, pki.ca.certificate.der]
    (tmp_path / "k.pem").write_bytes(pem)
    (tmp_path / "c.pem").write_bytes(cert.pem)
    for signer in (load_signer(tmp_path / "k.pem", tmp_path / "c.pem", "пароль", backend=b),
                   load_signer(p12, password="пароль", backend=b)):  # fmt: skip
        assert isinstance(signer, GostSigner) and signer.certificate.der == cert.der
        assert b.load_public_key(cert.public_key_info).verify_digest(data, signer.sign_digest(data))
    with pytest.raises(ValueError):
        read_key_material(p12, "не тот")


def test_openssl_reads_our_pkcs12(pki: TestPKI, tmp_path: Path, openssl: Any) -> None:
    s = pki.signer("gateway")
    (tmp_path / "g.p12").write_bytes(make_pkcs12(s.key.pkcs8(), s.certificate, "pw", [pki.ca.certificate]))
    out = openssl(["pkcs12", "-in", tmp_path / "g.p12", "-passin", "pass:pw", "-nodes", "-info"])
    text = out.stdout + out.stderr
    assert b"MAC: sha256" in text and b"AES-256-CBC" in text and text.count(b"BEGIN CERTIFICATE") == 2
    assert b"BEGIN PRIVATE KEY" in text


# -- backend choice --------------------------------------------------------------------------------


CHOICE = """
import json, warnings
from signing.backend import backend_info, get_backend, BackendUnavailable, FallbackWarning
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        b = get_backend()
    except BackendUnavailable as exc:
        print(json.dumps({"error": str(exc)}, ensure_ascii=False))
        raise SystemExit(0)
i = backend_info()
print(json.dumps({"name": b.name, "forced": i.forced, "skipped": dict(i.skipped),
                  "warned": any(issubclass(x.category, FallbackWarning) for x in w)}, ensure_ascii=False))
"""


def _choice(**env: str) -> dict[str, Any]:
    out = _run(CHOICE, env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _provider_capable() -> bool:
    return isinstance(get_backend(), ProviderBackend) or _provider_capable_elsewhere()


def test_forcing_each_backend() -> None:
    if engine_path() is None:
        pytest.skip("движок GOST не установлен")
    prov = os.environ.get("GATEWAY_GOST_PROVIDER", "")
    extra = {"GATEWAY_GOST_PROVIDER": prov} if prov else {}
    assert _choice(GATEWAY_GOST_BACKEND="engine", **extra) == {"name": ENGINE, "forced": ENGINE, "warned": False,
                                                                "skipped": {PROVIDER: f"GATEWAY_GOST_BACKEND задаёт {ENGINE}"}}  # fmt: skip
    python = _choice(GATEWAY_GOST_BACKEND="python", **extra)
    assert python["name"] == PYTHON and python["warned"] and set(python["skipped"]) == {PROVIDER, ENGINE}
    forced = _choice(GATEWAY_GOST_BACKEND="provider", **extra)
    if _provider_capable():
        assert forced["name"] == PROVIDER and forced["skipped"] == {}
    else:  # never a silent fallback to another backend
        assert "error" in forced and "openssl-provider недоступен" in forced["error"]
    assert "ожидается provider, engine или python" in _choice(GATEWAY_GOST_BACKEND="openssl")["error"]


def test_default_order_provider_then_engine_then_python(tmp_path: Path) -> None:
    if engine_path() is None:
        pytest.skip("движок GOST не установлен")
    prov = os.environ.get("GATEWAY_GOST_PROVIDER", "")
    default = _choice(**({"GATEWAY_GOST_PROVIDER": prov} if prov else {}))
    assert default["name"] == (PROVIDER if _provider_capable() else ENGINE)
    assert default["forced"] is None and not default["warned"]
    no_provider = _choice(GATEWAY_GOST_PROVIDER=str(tmp_path / "missing.so"))
    assert no_provider["name"] == ENGINE and "gostprov.so не найден" in no_provider["skipped"][PROVIDER]
    nothing = _choice(GATEWAY_GOST_PROVIDER=str(tmp_path / "missing.so"), GATEWAY_GOST_ENGINE=str(tmp_path / "missing.so"))
    assert nothing["name"] == PYTHON and nothing["warned"] and set(nothing["skipped"]) == {PROVIDER, ENGINE}


# -- openssl subprocesses --------------------------------------------------------------------------


def test_openssl_configuration_for_the_provider(conformance: Path, gost_context: GostLibraryContext, tmp_path: Path) -> None:
    text = openssl_config_path("provider").read_text()
    assert f"module = {gost_context.path}" in text and text.count("activate = 1") == 2
    m1 = next(v for v in _vectors(conformance) if v["name"] == "M1")
    (tmp_path / "m1").write_bytes(bytes.fromhex(m1["message_hex"]))
    env = openssl_env(kind="provider")
    listed = subprocess.run(["openssl", "list", "-digest-algorithms"], capture_output=True, text=True, env=env, check=True)
    assert "md_gost12_256 } @ gostprov" in listed.stdout
    out = subprocess.run(["openssl", "dgst", "-md_gost12_256", "-r", str(tmp_path / "m1")], capture_output=True,
                         text=True, env=env, check=True)  # fmt: skip
    assert out.stdout.split()[0] == m1["streebog256_hex"]


def test_openssl_configuration_for_the_engine() -> None:
    if engine_path() is None:
        pytest.skip("движок GOST не установлен")
    text = openssl_config_path("engine").read_text()
    assert "engine_id = gost" in text and "default_algorithms = ALL" in text
    assert openssl_config_path() == openssl_config_path("engine")  # the CLI needs the engine for X.509 and CMS


# -- gateway signing info ------------------------------------------------------------------------


def test_signing_info(capsys: pytest.CaptureFixture[str]) -> None:
    b = get_backend()
    assert main(["signing", "info"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Бэкенд ГОСТ: {b.name} — ")
    assert "OpenSSL: OpenSSL 3." in text
    assert "Хэш-функции: ГОСТ Р 34.11-2012 (Стрибог), 256 бит (md_gost12_256)" in text
    assert "Подписи: ГОСТ Р 34.10-2012, 256 бит (gost2012_256)" in text
    for name, _ in backend_info().skipped:
        assert f"Не использован {name}: " in text
    assert main(["signing", "info", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["backend"] == b.name and doc["slow"] is (b.name == PYTHON)
    assert {"md_gost12_256", "md_gost12_512"} <= set(doc["digests"]) and "gost2012_256" in doc["key_types"]


def test_signing_info_on_the_slow_backend() -> None:
    code = "import sys\nfrom gateway.app.cli import main\nsys.exit(main(['signing', 'info']))\n"
    out = _run(code, {"GATEWAY_GOST_BACKEND": "python"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Бэкенд ГОСТ: pure-python — код на Python, примерно в 1000 раз медленнее")
    assert "[slow_backend]" in out.stdout and "Не использован openssl-provider: GATEWAY_GOST_BACKEND=python" in out.stdout

