#!/usr/bin/python3
"""Builds the FROM-scratch despotify image without a container engine, with
Debian's umoci and skopeo (`make image` runs it):

  OUT/despotify-oci.tar            oci-archive: one OCI image index (linux/amd64 + linux/arm64)
  OUT/despotify-docker.tar         docker-archive of linux/amd64, tagged despotify:VERSION
  OUT/despotify-docker-arm64.tar   docker-archive of linux/arm64, tagged despotify:VERSION
  OUT/image/oci/                   the OCI layout the archives were made from (tag VERSION)

Each image holds exactly /despotify (0755) and /etc/despotify/despotify.ini
(0644), owned by 0:0, in one layer; it runs as 65532:65532 with
ENTRYPOINT ["/despotify"] and CMD ["-c", "/etc/despotify/despotify.ini"]
(the DaemonSet's `args` replace the CMD; its ConfigMap mounts over
/etc/despotify). Reproducible: every timestamp is SOURCE_DATE_EPOCH (else the
commit's time), owners are 0:0 whoever builds (root is not needed), and the
archives are written
with sorted members, so two builds of one commit give the same index digest
and the same oci-archive bytes. The index digest is printed on the last line.

  tools/mkimage.py [--out DIR] [--source URL] [--licenses SPDX]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = ("amd64", "arm64")
INI_PATH = "etc/despotify/despotify.ini"
USER = "65532:65532"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CMD_TIMEOUT = 300  # seconds for one umoci or skopeo call


def fail(msg):
    sys.exit(f"mkimage: {msg}")


def run(*argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
    except FileNotFoundError:
        fail(f"{argv[0]} is not installed (./build.sh installs umoci and skopeo)")
    if p.returncode != 0:
        fail(f"{' '.join(argv[:3])} ... failed ({p.returncode}):\n{p.stderr.decode(errors='replace')[-2000:]}")
    return p.stdout.decode()


def git(*args):
    p = subprocess.run(("git", "-C", ROOT) + args, capture_output=True, text=True, timeout=60)
    return p.stdout.strip() if p.returncode == 0 else ""


def facts(args):
    """Version, revision, source URL and epoch, each from one place."""
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    revision = git("rev-parse", "HEAD")
    if not revision:
        fail("not a git checkout: the image's revision label and timestamps come from the commit")
    if git("status", "--porcelain", "--untracked-files=no"):
        revision += "-dirty"
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or git("log", "-1", "--format=%ct")
    source = args.source or git("config", "--get", "remote.origin.url") or "file://" + ROOT
    return {"version": version, "revision": revision, "epoch": int(epoch), "source": source,
            "licenses": args.licenses}


def write_tar(path, entries, epoch):
    """A plain (ustar) tar at path of entries, (name, source file or None for
    a directory, mode) in the order given: mtime the epoch, owner 0:0 with no
    names, so that it depends on nothing but the entries' bytes."""
    with open(path + ".tmp", "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, src, mode in entries:
                info = tarfile.TarInfo(name)
                info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = epoch, mode, 0, 0, "", ""
                if src is None:
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                    continue
                info.size = os.path.getsize(src)
                with open(src, "rb") as fh:
                    tar.addfile(info, fh)
    os.replace(path + ".tmp", path)


def layer_tar(work, arch, epoch):
    """The image's only layer: the release binary and despotify.ini."""
    binary = os.path.join(ROOT, "build", "release", "despotify-linux-" + arch)
    if not os.path.exists(binary):
        fail(f"{binary} is missing: run make release")
    path = os.path.join(work, f"layer-{arch}.tar")
    write_tar(path, [("despotify", binary, 0o755), ("etc", None, 0o755),
                     ("etc/despotify", None, 0o755),
                     (INI_PATH, os.path.join(ROOT, "despotify.ini"), 0o644)], epoch)
    return path


def build_arch(layout, work, arch, f):
    """One single-platform image in the layout, tagged ARCH. The layer is
    written here, not by `umoci insert`, whose tar has no end-of-archive
    blocks and takes owners and times from the staged files."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(f["epoch"]))
    image = f"{layout}:{arch}"
    run("umoci", "new", "--image", image)
    run("umoci", "raw", "add-layer", "--image", image, "--history.created", created,
        "--history.created_by", "tools/mkimage.py: /despotify and /" + INI_PATH,
        layer_tar(work, arch, f["epoch"]))
    labels = {"source": f["source"], "version": f["version"], "revision": f["revision"],
              "title": "despotify", "licenses": f["licenses"], "created": created}
    label_args = []
    for k, v in labels.items():
        label_args += ["--config.label", f"org.opencontainers.image.{k}={v}"]
    run("umoci", "config", "--image", image, "--os", "linux", "--architecture", arch,
        "--config.user", USER, "--config.entrypoint", "/despotify",
        "--config.cmd", "-c", "--config.cmd", "/" + INI_PATH, "--config.workingdir", "/",
        *label_args, "--created", created, "--author", "despotify",
        "--history.created", created, "--history.created_by", "tools/mkimage.py: config")


def blob_path(layout, digest):
    return os.path.join(layout, "blobs", *digest.split(":", 1))


def write_index(layout, version):
    """Replaces the layout's per-arch tags with one image index (tag VERSION)
    listing both manifests with their platforms; returns its digest."""
    with open(os.path.join(layout, "index.json")) as fh:
        top = json.load(fh)
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in top["manifests"]}
    manifests = []
    for arch in ARCHES:
        m = by_tag[arch]
        manifests.append({"mediaType": MT_MANIFEST, "digest": m["digest"], "size": m["size"],
                          "platform": {"architecture": arch, "os": "linux"}})
    body = json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests},
                      sort_keys=True, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with open(blob_path(layout, digest), "wb") as fh:
        fh.write(body)
    top["manifests"] = [{"mediaType": MT_INDEX, "digest": digest, "size": len(body),
                         "annotations": {"org.opencontainers.image.ref.name": version}}]
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump(top, fh, sort_keys=True, separators=(",", ":"))
    return digest


def write_oci_archive(layout, path, epoch):
    """An oci-archive is a tar of an OCI layout. Written with write_tar rather
    than by `skopeo copy ... oci-archive:`, whose tar carries the build's own
    timestamps: members sorted, directories first."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(layout):
        dirnames.sort()
        rel = os.path.relpath(dirpath, layout)
        if rel != ".":
            entries.append((rel, None, 0o755))
        for n in sorted(filenames):
            entries.append((os.path.normpath(os.path.join(rel, n)), os.path.join(dirpath, n), 0o644))
    write_tar(path, entries, epoch)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build"))
    ap.add_argument("--source", default=os.environ.get("IMAGE_SOURCE", ""),
                    help="org.opencontainers.image.source (default: the git remote origin)")
    ap.add_argument("--licenses", default=os.environ.get("IMAGE_LICENSES") or "NOASSERTION",
                    help="org.opencontainers.image.licenses, an SPDX expression")
    args = ap.parse_args()
    f = facts(args)
    work = os.path.join(args.out, "image")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    layout = os.path.join(work, "oci")
    run("umoci", "init", "--layout", layout)
    for arch in ARCHES:
        build_arch(layout, work, arch, f)
    # Drop the blobs each umoci step superseded, while the per-arch tags are
    # still the roots (before they are folded into the index).
    run("umoci", "gc", "--layout", layout)
    ref = f"despotify:{f['version']}"
    docker = {"amd64": "despotify-docker.tar", "arm64": "despotify-docker-arm64.tar"}
    for arch in ARCHES:
        dest = os.path.join(args.out, docker[arch])
        if os.path.exists(dest):
            os.unlink(dest)  # skopeo refuses to add a second image to an archive
        run("skopeo", "copy", "--quiet", f"oci:{layout}:{arch}", f"docker-archive:{dest}:{ref}")
    digest = write_index(layout, f["version"])
    write_oci_archive(layout, os.path.join(args.out, "despotify-oci.tar"), f["epoch"])
    for arch in ARCHES:
        os.unlink(os.path.join(work, f"layer-{arch}.tar"))
    print(f"built {args.out}/despotify-oci.tar ({ref}, linux/amd64 + linux/arm64, revision "
          f"{f['revision']}), {args.out}/despotify-docker.tar (amd64), "
          f"{args.out}/despotify-docker-arm64.tar (arm64)")
    print(f"index digest {digest}")


if __name__ == "__main__":
    main()
