"""Provider sources: repositories on GitHub, GitLab, Bitbucket and Gitea, read through their HTTP APIs (so
they sync on both runtimes, with no git command line). The table of providers is `sources/kinds.py`."""
