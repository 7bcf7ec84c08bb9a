"""What the engine's own pages load, served by the engine itself (no CDN: they work offline).

``make install`` runs ``python -m api.assets install``: Swagger UI (for ``/docs``), htmx and
Chart.js (for the back office, ``/office``) come from the npm registry, pinned by their
integrity value and each file's sha256 (:mod:`adapters.npm`), into ``api/web/vendor/`` (not in
git).
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

HTMX = NpmFiles(
    package="htmx.org@2.0.11",
    integrity="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
    files={
        "dist/htmx.min.js": (
            "htmx.min.js",
            "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
        ),
        "LICENSE": ("LICENSE", "d3d2456f76414f2456104660ebd65aff1c04cd7966b942bdabd63f3cdb316a38"),
    },
    directory=WEB / "vendor" / "htmx",
    what="htmx (the back office's page updates)",
)

CHART_JS = NpmFiles(
    package="chart.js@4.5.1",
    integrity="sha512-GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==",
    files={
        "dist/chart.umd.min.js": (
            "chart.umd.min.js",
            "48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a",
        ),
        "LICENSE.md": (
            "LICENSE.md",
            "41a84aa2caba645f966a18d9c2056b73e6d3a81d80bc0046bc0011a2634d4cce",
        ),
    },
    directory=WEB / "vendor" / "chartjs",
    what="Chart.js (the back office's revenue chart)",
)

ALL = (SWAGGER_UI, HTMX, CHART_JS)


def install() -> None:
    for files in ALL:
        files.install()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m api.assets install")
    install()
