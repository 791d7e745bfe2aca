"""Background work: the job table (outbox), claiming, the worker loop, webhook delivery."""
