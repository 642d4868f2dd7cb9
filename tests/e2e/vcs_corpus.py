"""A corpus of awkward git repositories, built with the real `git`, for the VCS differential test.

Each package is a working repository pushed (`git push --mirror`) to a bare one that is served over HTTP.
`build` makes the first state; `change` then moves, deletes and adds refs and switches a default branch
without a push, so the broker is compared after an incremental sync. Every commit has its own author
date, a few hours before its committer date, so `time` tells the two apart.

Left out on purpose, because Composer itself fails on them (the broker skips them; see
tests/integration/test_git_sync.py): ref names that are not UTF-8 (Composer's console output and JSON
encoder throw), and composer.json fields whose type makes Composer's loader throw a TypeError.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

#: Author dates start here, one day apart; committer dates are five hours later.
EPOCH = 1_600_000_000
VENDOR = "corpus"


class CorpusRepo:
    """One package's working repository and the bare repository it is pushed to."""

    clock = 0

    def __init__(self, root: Path, package: str, default: str = "main") -> None:
        self.name = f"{VENDOR}/{package}"
        self.work = root / "work" / package
        self.bare = root / "served" / f"{package}.git"
        self.work.mkdir(parents=True)
        self.git("init", "-q", "-b", default)

    def git(self, *args: str | bytes, cwd: Path | None = None) -> str:
        CorpusRepo.clock += 1
        author = EPOCH + CorpusRepo.clock * 86400
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Corpus",
            "GIT_AUTHOR_EMAIL": "corpus@example.com",
            "GIT_COMMITTER_NAME": "Corpus",
            "GIT_COMMITTER_EMAIL": "corpus@example.com",
            "GIT_AUTHOR_DATE": f"@{author} +0000",
            "GIT_COMMITTER_DATE": f"@{author + 5 * 3600} +0000",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        result = subprocess.run(["git", "-C", str(cwd or self.work), *args], capture_output=True, env=env, check=False)
        if result.returncode != 0:
            raise AssertionError(f"git {args} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode().strip()

    def commit(self, manifest: dict[str, Any] | bytes | None, **files: str) -> str:
        """Commit composer.json (a dict is JSON-encoded with this repo's name unless it has one; bytes are
        written as they are; None removes the file) and other files."""
        path = self.work / "composer.json"
        if path.is_dir():
            shutil.rmtree(path)
        if isinstance(manifest, dict):
            path.write_text(json.dumps({"name": self.name, **manifest}, indent=4, ensure_ascii=False))
        elif isinstance(manifest, bytes):
            path.write_bytes(manifest)
        elif path.exists():
            path.unlink()
        for name, content in files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", f"commit {CorpusRepo.clock}")
        return self.git("rev-parse", "HEAD")

    def release(self, tag: str, manifest: dict[str, Any] | bytes | None, annotated: bool = False) -> None:
        """Commit on the current branch and tag that commit (the branch moves on with later commits)."""
        self.commit(manifest, **{"src/Version.php": f"<?php // {tag}"})
        self.git("tag", *(["-a", "-m", f"release {tag}"] if annotated else []), tag)

    def branch(self, name: str, manifest: dict[str, Any] | bytes | None) -> None:
        """Create `name` from the default branch with one commit of its own, and go back."""
        default = self.git("symbolic-ref", "--short", "HEAD")
        self.git("checkout", "-q", "-b", name)
        self.commit(manifest, **{"src/Branch.php": f"<?php // {name}"})
        self.git("checkout", "-q", default)

    def push(self) -> None:
        if not self.bare.exists():
            self.bare.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "init", "-q", "--bare", str(self.bare)], check=True)
            self.set_default(self.git("symbolic-ref", "--short", "HEAD"))
        self.git("push", "-q", "--mirror", "--force", str(self.bare))

    def set_default(self, branch: str) -> None:
        """Change the default branch (HEAD) of the served repository, without pushing anything."""
        self.git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=self.bare)


def lib(description: str, **fields: Any) -> dict[str, Any]:
    """An installable library manifest."""
    return {
        "description": description,
        "type": "library",
        "license": "MIT",
        "autoload": {"psr-4": {"Corpus\\": "src/"}},
        "require": {"php": ">=7.4"},
        **fields,
    }


def build(root: Path) -> dict[str, CorpusRepo]:
    """Build and push the first state of every package; returns them by package name."""
    repos = [make(root) for make in _MAKERS]
    for repo in repos:
        repo.push()
    return {repo.name: repo for repo in repos}


def change(repos: dict[str, CorpusRepo]) -> None:
    """Second state: refs moved, deleted and added, and a default branch switched without a push."""
    moving = repos[f"{VENDOR}/moving"]
    moving.git("tag", "-d", "1.0.0")
    moving.git("branch", "-D", "feature/gone")
    moving.commit(lib("moving 1.1.0, moved"))
    moving.git("tag", "-f", "1.1.0")
    moving.release("1.2.0", lib("moving 1.2.0"))
    moving.branch("feature/new", lib("moving feature/new"))
    moving.git("checkout", "-q", "develop")
    moving.commit(lib("moving develop, pushed", require={"php": ">=8.0"}))
    moving.git("checkout", "-q", "main")
    moving.push()
    repos[f"{VENDOR}/default-switch"].set_default("next")


def _odd_tags(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "odd-tags")
    # 1.0.0 and v1.0 normalise alike, and so do V1.1.0 and v1.1.0: the first in ref order wins.
    for tag in ("1.0.0", "v1.0", "1.0.0-RC1", "release-2", "1.0.0.0.0", "V1.1.0", "v1.1.0", "2.0.0-beta.2"):
        r.release(tag, lib(f"odd tag {tag}"))
    r.release("1.0.0-p1", lib("odd tag 1.0.0-p1"), annotated=True)
    r.release("not-a-version", lib("not a version"))
    r.commit(lib("odd tags main"))  # the default branch, last
    return r


def _branches(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "branches")
    r.release("0.1.0", lib("branches 0.1.0"))
    for branch in ("master", "feature/x", "2.x", "1.0", "v3", "feature/café", "bad,name", "a||b"):
        r.branch(branch, lib(f"branch {branch}"))
    r.commit(lib("branches main", extra={"branch-alias": {"dev-main": "4.0.x-dev"}}))  # the default branch, last
    return r


def _encodings(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "encodings")
    r.release("1.0.0", lib("encodings 1.0.0", authors=[{"name": "Zoë Ångström"}]))
    valid = json.dumps({"name": r.name, **lib("x")})
    r.release("1.1.0", b"\xef\xbb\xbf" + valid.encode())  # BOM
    r.release("1.2.0", valid.replace('"x"', '"caf\xe9"').encode("latin-1"))  # not UTF-8
    r.release("1.3.0", valid.replace('"x"', '"\\ud800"').encode())  # lone surrogate escape
    r.release("1.4.0", (valid[:-1] + ', "extra": {"deep": ' + "[" * 600 + "]" * 600 + "}}").encode())
    r.release("1.5.0", valid.replace('"x"', "NaN").encode())
    r.release("1.6.0", valid.replace('"x"', '"\\ud83d\\ude00 \\u00e9\\/"').encode())  # escapes PHP reads
    r.release("1.7.0", valid.encode("utf-16"))
    r.release("1.8.0", (" \t\r\n" + valid + "\n\n").encode())
    r.commit(lib("Grüße aus Köln 😀", keywords=["ümlaut", "日本語"]))  # the default branch, last
    return r


def _broken(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "broken")
    r.release("1.0.0", lib("broken 1.0.0"))
    r.release("1.1.0", b'{"name": "corpus/broken", oops}')
    r.release("1.2.0", None)
    r.release("1.3.0", b"")
    r.release("1.4.0", b" \n\t ")
    r.release("1.5.0", b"{}")
    r.release("1.6.0", b'"corpus/broken"')
    r.release("1.7.0", b'["a list", {"is": "a PHP array"}]')  # Composer serves it under the default branch's name
    r.release("1.8.0", b"0")
    r.commit(None, **{"composer.json/inner.txt": "composer.json is a directory"})
    r.git("tag", "1.9.0")
    r.commit(lib("broken main"))  # the default branch, last
    return r


def _constraints(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "constraints")
    fine = {"php": "^7.4 || ^8.0", "corpus/types": ">=1.0, <3.0-dev", "corpus/odd-tags": "1.0.* || 2.0.0-beta.2@beta"}
    r.release("1.0.0", lib("constraints 1.0.0", require=fine, conflict={"corpus/names": "<1.0 || >=9, !=9.1"}))
    r.release("1.1.0", lib("constraints 1.1.0", require={"corpus/types": ">=1.0 <<2"}))
    r.release("1.2.0", lib("constraints 1.2.0", require={"corpus/types": "~>1.0"}))
    r.release("1.3.0", lib("constraints 1.3.0", **{"require-dev": {"corpus/types": "not a constraint"}}))
    r.release("1.4.0", lib("constraints 1.4.0", require={"php": ">=7.4", "corpus/types": 1, "corpus/x": ["^1"]}))
    r.release("1.5.0", lib("constraints 1.5.0", require="php", conflict=[]))
    r.release("1.6.0", lib("constraints 1.6.0", replace={"corpus/old": "self.version"}, provide={"corpus/api": "1.0"}))
    r.release("1.7.0", lib("constraints 1.7.0", require=["^1.0"]))
    r.branch("next", lib("constraints next", require={"corpus/types": "dev-main as 3.x-dev || foo bar"}))
    r.commit(
        lib("constraints main", require={"php": ">=7.4 <9 || ^9.0", "corpus/types": "^2.0 | ~1.0"})
    )  # the default branch, last
    return r


def _names(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "names")
    r.release("1.0.0", {**lib("named other/name"), "name": "other/name"})
    r.release("1.1.0", {key: value for key, value in lib("no name").items()} | {"name": None})
    r.release("1.2.0", {**lib("invalid name"), "name": "Bad Name!"})
    r.release("1.3.0", {**lib("a number for a name"), "name": 5})
    r.branch("legacy", {**lib("legacy"), "name": "old/name"})
    r.commit(lib("names main"))  # the default branch, last
    return r


def _versions(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "versions")
    r.release("1.0.0", lib("agrees", version="1.0.0"))
    r.release("1.1.0", lib("disagrees", version="2.0.0"))
    r.release("v1.2.0", lib("prettier", version="1.2.0"))
    r.release("1.3.0", lib("a float", version=1.3))
    r.release("1.4.0-dev", lib("a dev tag"))
    r.release("dev-foo", lib("a dev- tag"))
    r.release("1.5.0", lib("dev suffix in composer.json", version="1.5.0-dev"))
    r.release("1.6.0", lib("a boolean", version=True))
    r.release("1.7.0", lib("empty version", version=""))
    r.commit(lib("versions main", version="9.9.9"))  # the default branch, last
    return r


def _annotated(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "annotated")
    r.release("1.0.0", lib("lightweight"))
    r.release("1.1.0", lib("annotated"), annotated=True)
    r.release("inner", lib("the inner tag of 1.2.0"), annotated=True)
    r.git("tag", "-a", "-m", "a tag of a tag", "1.2.0", "inner")
    r.git("tag", "1.3.0", "HEAD^{tree}")
    r.git("tag", "1.4.0", "HEAD:composer.json")
    r.commit(lib("annotated main"))  # the default branch, last
    return r


def _moving(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "moving")
    r.release("1.0.0", lib("moving 1.0.0, deleted later"))
    r.release("1.1.0", lib("moving 1.1.0, moved later"))
    r.branch("develop", lib("moving develop"))
    r.branch("feature/gone", lib("moving feature/gone"))
    r.commit(lib("moving main"))  # the default branch, last
    return r


def _default_switch(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "default-switch")
    r.release("1.0.0", lib("default-switch 1.0.0"))
    r.branch("next", lib("default-switch next, the default after the switch"))
    r.commit(lib("default-switch main"))  # the default branch, last
    return r


def _types(root: Path) -> CorpusRepo:
    r = CorpusRepo(root, "types")
    # Values PHP's === tells apart and Python's == does not, plus fields Composer reads as written.
    r.release("1.0.0", lib("types 1.0.0", extra={"plugin-optional": 1, "x": 1.0}, type="", time="0"))
    r.release("2.0.0", lib("types 2.0.0", extra={"plugin-optional": True, "x": 1}, license=["MIT"], abandoned=""))
    r.release("2.1.0", lib("types 2.1.0", extra={"x": True}, time="2001-02-03T04:05:06+00:00", keywords=["a", 1]))
    r.commit(lib("types main", extra={"plugin-optional": True}))  # the default branch, last
    return r


_MAKERS = (
    _odd_tags,
    _branches,
    _encodings,
    _broken,
    _constraints,
    _names,
    _versions,
    _annotated,
    _moving,
    _default_switch,
    _types,
)
#: Every package of the corpus.
PACKAGES = [f"{VENDOR}/{make.__name__[1:].replace('_', '-')}" for make in _MAKERS]
