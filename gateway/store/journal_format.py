"""The journal's hash-chain format (version 2): what is hashed, and what a checkpoint signs.

Pure functions, no I/O, so that the format is readable in one place and an auditor can
re-implement it in any language.  Every text that is hashed or signed is the JSON
Canonicalization Scheme (RFC 8785) serialisation of a small object, made with the
``rfc8785`` package; SHA-256 over those bytes, hex in lower case.

Entry ``n`` (its ``position`` in the chain, 1, 2, …) hashes::

    {"v": 2, "position": n, "seq": <row id>, "prev": <hash of entry n-1, or 64 zeros>,
     "at": "...Z", "actor": "...", "event": "...", "document_id": "..."|null,
     "municipality": "..."|null, "details": {...}}

A checkpoint signs (GOST R 34.10-2012, detached CMS)::

    {"v": 2, "kind": "journal_checkpoint", "position": n, "hash": <hash of entry n>, "at": "...Z"}

Version 1 (before sealing existed) hashed ``prev_hash`` followed by Python's sorted-keys
JSON of the entry; :func:`legacy_hash` keeps it only so that a migration can check an old
chain before re-hashing it in version 2.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

FORMAT_VERSION = 2
GENESIS = "0" * 64
ENTRY_FIELDS = ("seq", "at", "actor", "event", "document_id", "municipality", "details")


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data (dates and other objects as text), as it will be stored."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def entry_document(entry: Mapping[Any, Any], position: int, prev: str) -> dict[str, Any]:
    """The object whose canonical form is hashed for the entry at ``position``."""
    return {
        "v": FORMAT_VERSION,
        "position": position,
        "prev": prev,
        **{name: entry[name] for name in ENTRY_FIELDS},
    }


def entry_hash(entry: Mapping[Any, Any], position: int, prev: str) -> str:
    return hashlib.sha256(rfc8785.dumps(entry_document(entry, position, prev))).hexdigest()


def checkpoint_document(position: int, chain_hash: str, at: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return rfc8785.dumps(
        {"v": FORMAT_VERSION, "kind": "journal_checkpoint", "position": position, "hash": chain_hash, "at": at}
    )


def legacy_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    """Version 1: SHA-256 of ``prev_hash`` then sorted-keys compact JSON (for migrating old chains)."""
    fields = {k: entry[k] for k in ("seq", "document_id", "municipality", "at", "actor", "event", "details")}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(prev_hash.encode() + text.encode()).hexdigest()
