"""Text grammars: TODO.md items, comment lexers, ticking a TODO entry, helm queue.yaml."""
