"""The server's code bundles: each kept once, by digest, unpacked into a folder of its own.

ROOST_HOME/server/bundles/<hex>/ holds one unpacked bundle (its bundle host runs there); a bundle
is checked against its digest and unpacked safely (``code_bundles.unpack``) before it is kept, so a
folder that exists is complete.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from roost.runtime import code_bundles

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class BundleStore:
    def __init__(self, home: Path, max_bytes: int = code_bundles.MAX_BUNDLE_BYTES):
        self.root = home / "server" / "bundles"
        self.max_bytes = max_bytes
        # One bundle checked and unpacked at a time (callers use threads): each may hold its whole
        # unpacked tar in memory, up to code_bundles.MAX_UNPACKED_BYTES.
        self._unpacking = threading.Lock()

    @staticmethod
    def check_digest(digest: str) -> str:
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise code_bundles.BundleError(f"a bundle digest is 'sha256:' and 64 hex digits, got {digest[:80]!r}")
        return digest

    def folder(self, digest: str) -> Path:
        return self.root / self.check_digest(digest).split(":", 1)[1]

    def has(self, digest: str) -> bool:
        return self.folder(digest).is_dir()

    def put(self, digest: str, data: bytes) -> bool:
        """Keep the bundle ``data`` under ``digest`` (refused unless it is that bundle's digest); True
        when it was new."""
        folder = self.folder(digest)
        if len(data) > self.max_bytes:
            raise code_bundles.BundleError(
                f"the bundle is {len(data)} bytes; this server takes at most {self.max_bytes}"
            )
        with self._unpacking:
            if folder.is_dir():
                return False
            actual = code_bundles.digest_of(data)
            if actual != digest:
                raise code_bundles.BundleError(f"the bundle's content has digest {actual}, not {digest}")
            self.root.mkdir(parents=True, exist_ok=True)
            code_bundles.unpack(data, folder)
        return True
