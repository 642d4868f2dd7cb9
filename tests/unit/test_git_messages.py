"""What the sync reports when git fails: whole enough to act on, never a credential."""

from __future__ import annotations

from package_broker.runtimes.server.git_cli import explain, scrub


def test_the_fatal_line_is_kept_not_the_tail_of_the_hint() -> None:
    stderr = (
        "fatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    assert explain(stderr) == "fatal: Could not read from remote repository."


def test_without_a_fatal_line_every_line_is_kept_on_one_line_and_bounded() -> None:
    assert explain("warning: x\nsomething odd\n") == "warning: x something odd"
    assert len(explain("x" * 2000)) == 500


def test_credentials_are_scrubbed() -> None:
    message = "fatal: unable to access 'https://deploy:s3cret@git.example.com/a.git/': 403"
    assert "s3cret" not in scrub(explain(message))
