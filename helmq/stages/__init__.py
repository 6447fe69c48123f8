"""The three stages. Each takes a WorkItem and a StageContext and returns an Outcome."""
