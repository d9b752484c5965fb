#!/usr/bin/env python3
"""Keeps the CI cache's target folder from filling the disk.

Every clean clone lives at a new path, so cargo builds the workspace's own
crates (and the fuzz targets, and the vendored rumqttd) under new hashes and
never deletes the old ones: the cache reached 74 GB, and a full disk broke
the linker with a bus error. Dependencies from crates.io keep their hashes
and are left alone. For each of our crates (the workspace's and the fuzz
crate's targets, and rumqttd), in each deps folder, this keeps the newest
KEEP builds (a build: all files sharing one hash).

    .ci/prune_cache.py TARGET_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict

# One CI run builds up to about six variants of one crate (features, test
# harness, profile); eight keeps them all for the working copy's builds.
KEEP = 8


def our_crates():
    """Target names of the workspace and the fuzz crate, as rustc spells them."""
    names = {"rumqttd"}
    for manifest in ["Cargo.toml", "fuzz/Cargo.toml"]:
        out = subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1", "--manifest-path", manifest],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for package in json.loads(out)["packages"]:
            names |= {t["name"].replace("-", "_") for t in package["targets"]}
    return names


def main():
    target, names = sys.argv[1], our_crates()
    pattern = re.compile(r"^(?:lib)?([A-Za-z0-9_]+)-([0-9a-f]{16})(?:\..*)?$")
    freed = 0
    for root, dirs, _ in os.walk(target):
        if os.path.basename(root) != "deps":
            continue
        dirs.clear()
        builds = defaultdict(lambda: defaultdict(list))
        for f in os.listdir(root):
            m = pattern.match(f)
            if m and m.group(1) in names:
                builds[m.group(1)][m.group(2)].append(os.path.join(root, f))
        for by_hash in builds.values():
            newest = sorted(
                by_hash.values(),
                key=lambda files: max(os.path.getmtime(f) for f in files),
                reverse=True,
            )
            for files in newest[KEEP:]:
                for f in files:
                    freed += os.path.getsize(f) if os.path.isfile(f) else 0
                    if os.path.isdir(f):
                        shutil.rmtree(f, ignore_errors=True)
                    else:
                        os.remove(f)
    print(f"pruned {freed / 1e9:.1f} GB of earlier clones' builds from {target}")


if __name__ == "__main__":
    main()
