"""GitCliReader: the plain-git source's port, implemented with the real `git` command.

Each repository URL gets a bare mirror under DATA_DIR/git/. Git is run without a terminal (it fails
instead of prompting), with the `ext::` transport disabled, with `--` before every URL, and with
credentials passed through environment-only config (never on the command line, where `ps` would show
them). Error messages have credentials scrubbed before they are raised.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO

from ...errors import SourceError
from ...ports.git import GitRef

_CREDENTIALS_IN_URL = re.compile(r"(://)[^/@\s]+@")
_TIMEOUT = 600.0


def explain(stderr: str, limit: int = 500) -> str:
    """What git said, whole enough to act on: its fatal/error/remote lines (else every line), on one line.

    (The last line alone was often the tail of a sentence: "and the repository exists.")
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    important = [line for line in lines if line.startswith(("fatal:", "error:", "remote:", "ERROR:"))]
    text = " ".join(important or lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(text: str) -> str:
    """Remove `user:password@` from any URL in a message."""
    return _CREDENTIALS_IN_URL.sub(r"\1***@", text)


class GitCliReader:
    def __init__(self, root: str, git: str = "git") -> None:
        self.root = Path(root)
        self.git = git

    def mirror_of(self, url: str) -> Path:
        return self.root / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".git")

    def _env(self, credentials: tuple[str, str] | None) -> dict[str, str]:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": os.environ.get(
                "GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
            ),
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }
        pairs = [
            ("protocol.ext.allow", "never"),
            ("core.hooksPath", "/dev/null"),
            # A hostile or dying server: give up on a transfer slower than 1 KB/s for 20 s (the whole command
            # also has a time limit).
            ("http.lowSpeedLimit", "1000"),
            ("http.lowSpeedTime", "20"),
        ]
        if credentials is not None:
            basic = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            pairs.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        env["GIT_CONFIG_COUNT"] = str(len(pairs))
        for i, (key, value) in enumerate(pairs):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    async def _run(
        self, *args: str, stdin: bytes | None = None, credentials: tuple[str, str] | None = None, what: str
    ) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                self.git,
                *args,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._env(credentials),
            )
        except FileNotFoundError:
            raise SourceError("the git command is not installed on this server (apt install git)") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), _TIMEOUT)
        except TimeoutError:
            process.kill()
            raise SourceError(f"{what} timed out after {int(_TIMEOUT)} s") from None
        if process.returncode != 0:
            detail = scrub(explain(err.decode("utf-8", "replace")))
            raise SourceError(f"{what} failed: {detail or f'git exited with {process.returncode}'}")
        return out

    async def fetch(self, url: str, credentials: tuple[str, str] | None) -> None:
        mirror = self.mirror_of(url)
        if (mirror / "HEAD").exists():
            await self._run(
                "-C",
                str(mirror),
                "fetch",
                "--prune",
                "--quiet",
                "origin",
                credentials=credentials,
                what=f"git fetch of {scrub(url)}",
            )
            # A mirror's HEAD is set at clone time only; follow a changed default branch.
            out = await self._run(
                "-C",
                str(mirror),
                "ls-remote",
                "--symref",
                "origin",
                "HEAD",
                credentials=credentials,
                what=f"git ls-remote of {scrub(url)}",
            )
            match = re.match(rb"ref: (refs/heads/\S+)\tHEAD", out)
            if match:
                await self._run("-C", str(mirror), "symbolic-ref", "HEAD", match[1].decode(), what="git symbolic-ref")
            return
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = mirror.with_suffix(".tmp")
        if tmp.exists():
            await asyncio.to_thread(_rmtree, tmp)
        await self._run(
            "clone",
            "--mirror",
            "--quiet",
            "--",
            url,
            str(tmp),
            credentials=credentials,
            what=f"git clone of {scrub(url)}",
        )
        tmp.rename(mirror)

    async def refs(self, url: str) -> tuple[list[GitRef], str | None]:
        mirror = str(self.mirror_of(url))
        out = await self._run(
            "-C",
            mirror,
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(objecttype)",
            "refs/heads",
            "refs/tags",
            what="git for-each-ref",
        )
        # Names as bytes would have them: a name that is not UTF-8 keeps its bytes as surrogates (the sync skips it).
        listed = [line.split("\0") for line in out.decode("utf-8", "surrogateescape").splitlines()]
        # An annotated tag may point at another tag: peel to the end, as `git show-ref --dereference` does for Composer.
        annotated = [objectname for _, objectname, kind in listed if kind == "tag"]
        peeled = dict(zip(annotated, await self._objects(mirror, [f"{sha}^{{}}" for sha in annotated]), strict=True))
        refs = []
        for refname, objectname, _ in listed:
            if refname.startswith("refs/tags/"):
                target = peeled.get(objectname, (objectname, ""))[0]
                refs.append(GitRef(refname[len("refs/tags/") :], "tag", target))
            elif refname.startswith("refs/heads/"):
                refs.append(GitRef(refname[len("refs/heads/") :], "branch", objectname))
        try:
            head = (
                (await self._run("-C", mirror, "symbolic-ref", "--short", "HEAD", what="git symbolic-ref"))
                .decode("utf-8", "surrogateescape")
                .strip()
            )
        except SourceError:
            head = ""
        return refs, head or None

    async def _objects(self, mirror: str, revisions: list[str]) -> list[tuple[str, str]]:
        """(sha, type) of each revision (`("", "missing")` for one that does not resolve)."""
        if not revisions:
            return []
        request = "".join(f"{revision}\n" for revision in revisions).encode()
        out = await self._run("-C", mirror, "cat-file", "--batch-check", stdin=request, what="git cat-file")
        found = []
        for line in out.decode().splitlines():
            parts = line.split()
            found.append((parts[0], parts[1]) if len(parts) == 3 else ("", "missing"))
        return found

    async def read_files(self, url: str, commit_paths: list[tuple[str, str]]) -> list[bytes | None]:
        if not commit_paths:
            return []
        mirror = str(self.mirror_of(url))
        request = "".join(f"{commit}:{path}\n" for commit, path in commit_paths).encode()
        out = await self._run("-C", mirror, "cat-file", "--batch", stdin=request, what="git cat-file")
        results: list[bytes | None] = []
        position = 0
        for _ in commit_paths:
            end = out.index(b"\n", position)
            header = out[position:end].split()
            position = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                results.append(out[position : position + size])
                position += size + 1
            else:  # "<object> missing", or not a file
                if len(header) == 3:
                    position += int(header[2]) + 1
                results.append(None)
        return results

    async def author_times(self, url: str, objects: list[str]) -> dict[str, int]:
        mirror = str(self.mirror_of(url))
        # `git log` refuses the whole list if one object is a tree or blob (a tag may point at one).
        kinds = await self._objects(mirror, objects)
        commits = [sha for sha, (_, kind) in zip(objects, kinds, strict=True) if kind == "commit"]
        times: dict[str, int] = {}
        for start in range(0, len(commits), 500):
            chunk = commits[start : start + 500]
            # %at, the author date: what Composer's git driver reports as `time` (not %ct, the committer's).
            out = await self._run(
                "-C",
                mirror,
                "-c",
                "log.showSignature=false",
                "log",
                "--no-walk=unsorted",
                "--format=%H %at",
                *chunk,
                "--",
                what="git log",
            )
            for line in out.decode().splitlines():
                sha, _, seconds = line.partition(" ")
                times[sha] = int(seconds)
        return times

    async def archive(self, url: str, commit: str, out: BinaryIO) -> None:
        mirror = str(self.mirror_of(url))
        process = await asyncio.create_subprocess_exec(
            self.git,
            "-C",
            mirror,
            "archive",
            "--format=zip",
            commit,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(None),
        )
        assert process.stdout is not None and process.stderr is not None
        while chunk := await process.stdout.read(256 * 1024):
            out.write(chunk)
        err = await process.stderr.read()
        if await process.wait() != 0:
            raise SourceError(f"git archive of {commit[:12]} failed: {scrub(err.decode('utf-8', 'replace').strip())}")


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
