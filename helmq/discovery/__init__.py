"""Discovery: find work in a repository (TODO files, TODO comments) as `Finding`s."""
