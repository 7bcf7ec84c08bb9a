"""What the engine's own pages load, served by the engine itself (no CDN: they work offline).

``make install`` runs ``python -m api.assets install``: Swagger UI (for ``/docs``) comes from
the npm registry, pinned by its integrity value and each file's sha256 (:mod:`adapters.npm`),
into ``api/web/vendor/`` (not in git).
"""

from __future__ import annotations

import sys
from pathlib import Path

from adapters.npm import NpmFiles

WEB = Path(__file__).resolve().parent / "web"

SWAGGER_UI = NpmFiles(
    package="swagger-ui-dist@5.35.0",
    integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    files={
        "swagger-ui-bundle.js": (
            "swagger-ui-bundle.js",
            "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
        ),
        "swagger-ui.css": (
            "swagger-ui.css",
            "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
        ),
        "LICENSE": ("LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
    },
    directory=WEB / "vendor" / "swagger-ui",
    what="Swagger UI (the /docs page)",
)

ALL = (SWAGGER_UI,)


def install() -> None:
    for files in ALL:
        files.install()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m api.assets install")
    install()
