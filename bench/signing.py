"""Signing benchmark: the project's GOST figures against raw OpenSSL, in one run, on one core.

Run:  .venv/bin/python bench/signing.py   (prints one figure per line; see bench/README.md)

Baselines measured in the same run:
* raw OpenSSL GOST-256 signatures per second: a small C loop straight over libcrypto and
  the GOST engine (Streebog of 64 bytes + EVP_PKEY_sign), compiled here with ``cc``;
  without a compiler the same two calls are looped through ctypes (said in the output);
* ``openssl speed -evp md_gost12_256 -bytes 16384`` for Streebog.
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
from signing.gost_engine import load_engine, openssl_env  # noqa: E402
from signing.keys import pkcs8_to_pem  # noqa: E402
from signing.streebog import streebog256  # noqa: E402
from signing.test_pki import PARTIES, create_test_pki  # noqa: E402

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
  printf("%.0f\n", best); return 0;
}
"""


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


def raw_openssl_signs(key_pem: bytes, workdir: Path, signer_key: object) -> tuple[float, str]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        src, exe, keyf = workdir / "loop.c", workdir / "loop", workdir / "k.pem"
        src.write_text(C_LOOP)
        keyf.write_bytes(key_pem)
        subprocess.run([cc, "-O2", str(src), "-o", str(exe), "-lcrypto"], check=True, capture_output=True)
        out = subprocess.run([str(exe), str(keyf)], check=True, capture_output=True, text=True, env=openssl_env())
        return float(out.stdout.strip()), "C loop over libcrypto"
    from signing.gost_engine import EngineBackend

    b = EngineBackend()
    data = b"\x01" + bytes(63)
    return rate(lambda: signer_key.sign_digest(b.digest("streebog256", data))), "ctypes loop (no C compiler)"  # type: ignore[attr-defined]


def openssl_speed_streebog() -> float:
    out = subprocess.run(["openssl", "speed", "-evp", "md_gost12_256", "-bytes", "16384", "-seconds", "3"],
                         capture_output=True, text=True, env=openssl_env(), check=True).stdout
    m = re.search(r"md_gost12_256\s+([\d.]+)k", out)
    if not m:
        raise RuntimeError(out)
    return float(m.group(1)) * 1000 / 1e6  # MB/s (10^6 bytes)


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, children too
    if load_engine() is None:
        print("engine: absent (pure-Python fallback; figures are not comparable)")
    pki = create_test_pki(parties=tuple(p for p in PARTIES if p.role == "gateway"))
    signer = pki.signer("gateway")  # GOST-256, paramset CryptoPro-A (the SMEV curve), issued by the CA
    with tempfile.TemporaryDirectory() as tmp:
        raw, how = raw_openssl_signs(pkcs8_to_pem(signer.key.pkcs8()), Path(tmp), signer.key)
    small = b"\x01" + bytes(63)
    ours = rate(lambda: signer.sign(small))
    print(f"openssl raw sign ({how}): {raw:.0f}/s")
    print(f"sign 64 B: {ours:.0f}/s")
    print(f"sign ratio vs openssl: {ours / raw:.2f}")

    big = os.urandom(10_000_000)
    best = max(10 / (lambda t0: (streebog256(big), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(ROUNDS))
    ref = openssl_speed_streebog()
    print(f"streebog 10 MB: {best:.0f} MB/s")
    print(f"openssl speed md_gost12_256 16 KB: {ref:.0f} MB/s")
    print(f"streebog ratio vs openssl: {best / ref:.2f}")

    kb = os.urandom(1024)
    print(f"cms sign 1 KB: {rate(lambda: cms.sign_detached(kb, signer)):.0f}/s")
    sig = cms.sign_detached(kb, signer)
    print(f"cms verify 1 KB: {rate(lambda: cms.verify_detached(sig, kb)):.0f}/s")

    doc = document()
    signed = xmldsig.sign_element(doc, "SIGNED_BY_CONSUMER", signer, "CallerInformationSystemSignature")
    assert xmldsig.verify(signed)[0].ok
    print(f"xml document: {len(doc)} B, signed {len(signed)} B")
    print(f"xml sign: {rate(lambda: xmldsig.sign_element(doc, 'SIGNED_BY_CONSUMER', signer)):.0f}/s")
    print(f"xml verify: {rate(lambda: xmldsig.verify(signed)):.0f}/s")
    print(f"xml verify + read element: {rate(lambda: xmldsig.verify(signed)[0].signed_element):.0f}/s")
    print(f"xml verify + chain + crl: {rate(lambda: xmldsig.verify(signed, trusted=pki.ca.certificate, crl=pki.crl)):.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
