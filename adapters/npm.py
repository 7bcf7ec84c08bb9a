"""Files the engine serves or embeds, fetched from the npm registry at set-up, checksum-pinned.

``make install`` fetches each pinned package once with ``npm pack``, checks the tarball's
sha512 against the registry's integrity value pinned in the code, unpacks the files it needs
(not into git) and checks each file's sha256 too, so every machine serves and renders the very
same bytes and nothing is loaded from the internet at run time.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path


class AssetsMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class NpmFiles:
    """Files of one pinned npm package, unpacked into ``directory``."""

    package: str  # name@version
    integrity: str  # ``npm view name@version dist.integrity``
    #: path inside the tarball (under ``package/``) → (file name here, its sha256)
    files: dict[str, tuple[str, str]]
    directory: Path
    what: str  # for messages: "the Vazirmatn font"

    def installed(self) -> bool:
        return all(
            (self.directory / name).is_file() and _sha256(self.directory / name) == digest
            for name, digest in self.files.values()
        )

    def ensure(self) -> Path:
        if not self.installed():
            raise AssetsMissing(
                f"{self.what} is not installed in {self.directory} (or its files changed). Run "
                "`make install`; it needs npm and the npm registry."
            )
        return self.directory

    def install(self) -> None:
        if self.installed():
            print(f"{self.package}: already in {self.directory}")
            return
        npm = shutil.which("npm")
        if npm is None:
            raise AssetsMissing(f"npm is needed to fetch {self.what} (apt-get install npm).")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [npm, "pack", self.package, "--silent", "--pack-destination", tmp],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            (tarball,) = Path(tmp).glob("*.tgz")
            algorithm, expected = self.integrity.split("-", 1)
            actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest())
            if actual.decode() != expected:
                raise AssetsMissing(
                    f"{tarball.name}: integrity {actual.decode()} is not the pinned {expected}."
                )
            self.directory.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    inside = member.name.removeprefix("package/")
                    if inside in self.files:
                        source = archive.extractfile(member)
                        assert source is not None
                        (self.directory / self.files[inside][0]).write_bytes(source.read())
        self.ensure()
        print(f"{self.package}: installed in {self.directory}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
