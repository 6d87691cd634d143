"""TEST ONLY: an offline mirror with two tiny images, made by homelab-ctl's own mirror code.

usage: python make_mirror.py MIRROR_DIR     (the python homelab-ctl is installed in)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from homelab_ctl.lab import podman
from homelab_ctl.mirror import images, layout

REFS = ("registry.example/offline/first:v1", "registry.example/offline/second:v2")


def main(mirror: Path) -> None:
    directory = mirror / layout.IMAGES_DIR
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for ref in REFS:
            payload = Path(tmp) / ref.replace("/", "_")
            payload.write_text(f"{ref}\n")
            archive, digest, _ = images.build(images.Image(ref, {"/payload": payload}), Path(tmp) / "cache", "",
                                              echo=lambda line: None)
            name = layout.image_file_name(ref)
            (directory / name).write_bytes(archive.read_bytes())
            entries.append(layout.ImageEntry(ref, digest, name))
            podman.run(["rmi", ref], check=False)  # the archive is what counts; leave no image behind
    layout.write_images(directory, entries)
    layout.write_sums(directory)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
