"""Signing benchmark: the project's GOST figures against raw OpenSSL, in one run, on one core.

Run:  .venv/bin/python bench/signing.py   (prints one figure per line; see bench/README.md)

Baselines measured in the same run:
* raw OpenSSL GOST-256 signatures per second: a small C loop straight over libcrypto and
  the same GOST backend the project uses (Streebog of 64 bytes + EVP_PKEY_sign): the engine,
  or the provider in a library context of its own (``OSSL_LIB_CTX`` + ``OSSL_PROVIDER_load``),
  compiled here with ``cc``; without a compiler the same two calls are looped through ctypes
  (said in the output);
* ``openssl speed -evp md_gost12_256 -bytes 16384`` for Streebog (through the same backend).
Every figure is the best of several rounds (the development machine is shared).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signing import cms, xmldsig  # noqa: E402
from signing.backend import PROVIDER, backend_info, get_backend  # noqa: E402
from signing.gost_engine import openssl_env  # noqa: E402
from signing.keys import pkcs8_to_pem  # noqa: E402
from signing.streebog import streebog256  # noqa: E402
from signing.test_pki import PARTIES, create_test_pki  # noqa: E402
from signing.trust_store import TrustStore  # noqa: E402

ROUNDS = 5

C_LOOP = r"""
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/engine.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc, char **argv){
  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
  FILE *f = fopen(argv[1], "r"); EVP_PKEY *k = PEM_read_PrivateKey(f, 0, 0, 0); fclose(f);
  if (!k) { fprintf(stderr, "no key\n"); return 1; }
  const EVP_MD *md = EVP_get_digestbyname("md_gost12_256");
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, 0); EVP_PKEY_sign_init(c);
  unsigned char data[64] = {1}, h[64], sig[128]; unsigned int hl; size_t sl; double best = 0;
  for (int round = 0; round < 5; round++) {
    long n = 0; double t0 = now();
    while (now() - t0 < 0.6) { EVP_Digest(data, sizeof data, h, &hl, md, 0); sl = sizeof sig;
      if (EVP_PKEY_sign(c, sig, &sl, h, hl) != 1) { fprintf(stderr, "sign failed\n"); return 1; } n++; }
    double r = n / (now() - t0); if (r > best) best = r;
  }
  EVP_PKEY_verify_init(c); double vbest = 0;
  for (int round = 0; round < 5; round++) {
    long n = 0; double t0 = now();
    while (now() - t0 < 0.6) { EVP_Digest(data, sizeof data, h, &hl, md, 0);
      if (EVP_PKEY_verify(c, sig, sl, h, hl) != 1) { fprintf(stderr, "verify failed\n"); return 1; } n++; }
    double r = n / (now() - t0); if (r > vbest) vbest = r;
  }
  printf("%.0f %.0f\n", best, vbest); return 0;
}
"""

C_LOOP_PROVIDER = r"""
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc, char **argv){
  OSSL_LIB_CTX *lc = OSSL_LIB_CTX_new();
  if (!OSSL_PROVIDER_load(lc, argv[2]) || !OSSL_PROVIDER_load(lc, "default")) { fprintf(stderr, "no provider\n"); return 1; }
  FILE *f = fopen(argv[1], "r"); EVP_PKEY *k = PEM_read_PrivateKey_ex(f, 0, 0, 0, lc, 0); fclose(f);
  if (!k) { fprintf(stderr, "no key\n"); return 1; }
  EVP_MD *md = EVP_MD_fetch(lc, "md_gost12_256", 0);
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(lc, k, 0); EVP_PKEY_sign_init(c);
  unsigned char data[64] = {1}, h[64], sig[128]; unsigned int hl; size_t sl; double best = 0;
  for (int round = 0; round < 5; round++) {
    long n = 0; double t0 = now();
    while (now() - t0 < 0.6) { EVP_Digest(data, sizeof data, h, &hl, md, 0); sl = sizeof sig;
      if (EVP_PKEY_sign(c, sig, &sl, h, hl) != 1) { fprintf(stderr, "sign failed\n"); return 1; } n++; }
    double r = n / (now() - t0); if (r > best) best = r;
  }
  EVP_PKEY_verify_init(c); double vbest = 0;
  for (int round = 0; round < 5; round++) {
    long n = 0; double t0 = now();
    while (now() - t0 < 0.6) { EVP_Digest(data, sizeof data, h, &hl, md, 0);
      if (EVP_PKEY_verify(c, sig, sl, h, hl) != 1) { fprintf(stderr, "verify failed\n"); return 1; } n++; }
    double r = n / (now() - t0); if (r > vbest) vbest = r;
  }
  printf("%.0f %.0f\n", best, vbest); return 0;
}
"""


def _kind() -> str:
    """The OpenSSL configuration of the project's backend, for ``openssl`` subprocesses."""
    return "provider" if get_backend().name == PROVIDER else "engine"


def rate(fn: Callable[[], object], seconds: float = 0.6) -> float:
    """Best operations per second over ``ROUNDS`` rounds of about ``seconds`` each."""
    best = 0.0
    for _ in range(ROUNDS):
        n = 0
        t0 = time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        best = max(best, n / dt)
    return best


def document() -> bytes:
    """A realistic ~2 KB SMEV SendRequestRequest carrying a social-order enrolment."""
    t = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2"
    b = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2"
    body = (
        '<so:Enrolment xmlns:so="urn://example/social-order/enrolment/1.0" version="1.0">'
        "<so:Program><so:Code>ДОП-2026-0117</so:Code><so:Name>Робототехника и программирование для начинающих</so:Name>"
        "<so:Direction>техническая</so:Direction><so:Hours>144</so:Hours></so:Program>"
        "<so:Provider><so:Name>ООО «Кружки и секции»</so:Name><so:INN>5702000032</so:INN><so:OGRN>1225700000030</so:OGRN></so:Provider>"
        "<so:Child><so:LastName>Иванов</so:LastName><so:FirstName>Пётр</so:FirstName><so:MiddleName>Сергеевич</so:MiddleName>"
        "<so:BirthDate>2015-04-12</so:BirthDate><so:SNILS>123-456-789 64</so:SNILS></so:Child>"
        "<so:Parent><so:LastName>Иванова</so:LastName><so:FirstName>Мария</so:FirstName><so:Phone>+7 900 000-00-00</so:Phone>"
        "<so:Email>parent@example.org</so:Email><so:Relation>мать</so:Relation></so:Parent>"
        "<so:Address>Орловская обл., г. Ливны, ул. Ленина, д. 1, кв. 2</so:Address>"
        "<so:Certificate><so:Number>5700-0000-0000-17</so:Number><so:Balance>12000.00</so:Balance></so:Certificate>"
        "<so:Group><so:Name>Группа 2, вторник и четверг, 16:00</so:Name><so:Start>2026-09-01</so:Start></so:Group>"
        "<so:Consent>Согласие на обработку персональных данных получено 01.08.2026</so:Consent>"
        "<so:Municipality><so:OKTMO>54705000</so:OKTMO><so:Name>городской округ город Ливны</so:Name></so:Municipality>"
        "</so:Enrolment>"
    )
    doc = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ns2:SendRequestRequest xmlns:ns2="{t}" xmlns="{b}">'
        '<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">'
        "<ns2:MessageID>ac9fbf27-8b8c-11eb-8dcd-0242ac130003</ns2:MessageID>"
        f"<MessagePrimaryContent>{body}</MessagePrimaryContent>"
        "</ns2:SenderProvidedRequestData><ns2:CallerInformationSystemSignature/></ns2:SendRequestRequest>"
    )
    return doc.encode("utf-8")


def raw_openssl_signs(key_pem: bytes, workdir: Path, signer_key: object) -> tuple[float, float, str]:
    """Raw signatures and verifications per second (each with Streebog of 64 bytes), and how they were measured."""
    cc = shutil.which("cc") or shutil.which("gcc")
    b = get_backend()
    if cc:
        src, exe, keyf = workdir / "loop.c", workdir / "loop", workdir / "k.pem"
        keyf.write_bytes(key_pem)
        if b.name == PROVIDER:
            from signing.gost_provider import ProviderBackend

            assert isinstance(b, ProviderBackend)
            src.write_text(C_LOOP_PROVIDER)
            args, env, how = [str(b.context.path)], {k: v for k, v in os.environ.items() if k != "OPENSSL_CONF"}, "provider"
        else:
            src.write_text(C_LOOP)
            args, env, how = [], openssl_env(kind="engine"), "engine"
        subprocess.run([cc, "-O2", str(src), "-o", str(exe), "-lcrypto"], check=True, capture_output=True)
        out = subprocess.run([str(exe), str(keyf), *args], check=True, capture_output=True, text=True, env=env)
        sign_rate, verify_rate = out.stdout.split()
        return float(sign_rate), float(verify_rate), f"C loop over libcrypto + {how}"
    data = b"\x01" + bytes(63)
    signs = rate(lambda: signer_key.sign_digest(b.digest("streebog256", data)))  # type: ignore[attr-defined]
    pub = b.load_public_key(signer_key.public_key_info())  # type: ignore[attr-defined]
    sig = signer_key.sign_digest(b.digest("streebog256", data))  # type: ignore[attr-defined]
    return signs, rate(lambda: pub.verify_digest(b.digest("streebog256", data), sig)), "ctypes loop (no C compiler)"


def openssl_speed_streebog() -> float:
    out = subprocess.run(["openssl", "speed", "-evp", "md_gost12_256", "-bytes", "16384", "-seconds", "3"],
                         capture_output=True, text=True, env=openssl_env(kind=_kind()), check=True).stdout
    m = re.search(r"md_gost12_256\s+([\d.]+)k", out)
    if not m:
        raise RuntimeError(out)
    return float(m.group(1)) * 1000 / 1e6  # MB/s (10^6 bytes)


CMS_SIGN_TARGET = 3000  # per second, 1 KB detached CMS
CMS_VERIFY_TARGET = 4000  # per second, 1 KB, chain + revocation from the cache
XML_VERIFY_TARGET = 3000  # per second, the 2 KB SMEV document, chain + revocation from the cache


def against(label: str, ours: float, raw: float, what: str, target: float) -> str:
    """One figure beside the raw OpenSSL rate of the same run, with the target verdict."""
    verdict = "met" if ours >= target else "NOT met"
    return f"{label}: {ours:.0f}/s ({ours / raw:.2f} × openssl raw {what} {raw:.0f}/s; target ≥ {target}/s: {verdict})"


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, children too
    info = backend_info()
    print(f"backend: {info.name} ({info.openssl_version})")
    if info.slow:
        print("no OpenSSL GOST backend (pure-Python fallback; figures are not comparable)")
    pki = create_test_pki(parties=tuple(p for p in PARTIES if p.role == "gateway"))
    signer = pki.signer("gateway")  # GOST-256, paramset CryptoPro-A (the SMEV curve), issued by the CA
    with tempfile.TemporaryDirectory() as tmp:
        raw, raw_verify, how = raw_openssl_signs(pkcs8_to_pem(signer.key.pkcs8()), Path(tmp), signer.key)
    small = b"\x01" + bytes(63)
    ours = rate(lambda: signer.sign(small))
    print(f"openssl raw sign ({how}): {raw:.0f}/s")
    print(f"openssl raw verify ({how}): {raw_verify:.0f}/s")
    print(f"sign 64 B: {ours:.0f}/s")
    print(f"sign ratio vs openssl: {ours / raw:.2f}")

    big = os.urandom(10_000_000)
    best = max(10 / (lambda t0: (streebog256(big), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(ROUNDS))
    ref = openssl_speed_streebog()
    print(f"streebog 10 MB: {best:.0f} MB/s")
    print(f"openssl speed md_gost12_256 16 KB: {ref:.0f} MB/s")
    print(f"streebog ratio vs openssl: {best / ref:.2f}")

    # Full verification: signature, chain to the CA and revocation (the CA's CRL) from the
    # trust store's cache, as the gateway verifies; the verdict is checked before timing.
    trust = TrustStore([pki.ca.certificate], crls=[pki.crl])
    kb = os.urandom(1024)
    print(against("cms sign 1 KB", rate(lambda: cms.sign_detached(kb, signer)), raw, "sign", CMS_SIGN_TARGET))
    sig = cms.sign_detached(kb, signer)
    (r,) = cms.verify_detached(sig, kb, trust=trust)
    assert r.ok and r.chain is not None and r.chain.revocation == "good", r.errors
    print(f"cms verify 1 KB (no chain): {rate(lambda: cms.verify_detached(sig, kb)):.0f}/s")
    cms_full = rate(lambda: cms.verify_detached(sig, kb, trust=trust))
    print(against("cms verify 1 KB (chain+revocation cached)", cms_full, raw_verify, "verify", CMS_VERIFY_TARGET))

    doc = document()
    signed = xmldsig.sign_element(doc, "SIGNED_BY_CONSUMER", signer, "CallerInformationSystemSignature")
    assert xmldsig.verify(signed)[0].ok
    print(f"xml document: {len(doc)} B, signed {len(signed)} B")
    print(f"xml sign: {rate(lambda: xmldsig.sign_element(doc, 'SIGNED_BY_CONSUMER', signer)):.0f}/s")
    print(f"xml verify: {rate(lambda: xmldsig.verify(signed)):.0f}/s")
    print(f"xml verify + read element: {rate(lambda: xmldsig.verify(signed)[0].signed_element):.0f}/s")
    print(f"xml verify + chain + crl (re-checked every call): {rate(lambda: xmldsig.verify(signed, trusted=pki.ca.certificate, crl=pki.crl)):.0f}/s")
    (x,) = xmldsig.verify(signed, trust=trust)
    assert x.ok and x.chain is not None and x.chain.revocation == "good", x.errors
    xml_full = rate(lambda: xmldsig.verify(signed, trust=trust))
    print(against("xml verify + chain + revocation (cached)", xml_full, raw_verify, "verify", XML_VERIFY_TARGET))
    return 0


if __name__ == "__main__":
    sys.exit(main())
