"""``python -m pamchain.contracts``: compile every deployable and rewrite the shipped artifacts (``compiled/``)."""

from __future__ import annotations

from . import source_hash, write_artifacts

if __name__ == "__main__":
    for path in write_artifacts():
        print(f"wrote {path}")
    print(f"sources sha256 {source_hash()}")
