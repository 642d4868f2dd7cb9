"""Version-controlled repositories as sources: tags and branches become versions as in Composer's `vcs`
repository, whether the repository is a local git mirror or a provider's API."""
