"""Job handlers that jobs.yaml names by dotted path (`handler: handlers.feed.process`).

A handler is `process(item: WorkItem, ctx: StageContext) -> Outcome`: the execute stage of
the job's items, run in the worker that consumes the item's tier queue."""
