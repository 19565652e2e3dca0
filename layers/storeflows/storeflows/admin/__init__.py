"""What the `storeflows` admin CLI does, as domain code: workflow, message and sender files,
the checks before publishing, the lifecycle draft → published → paused, in-flight counts,
stores and their secrets, previews, test sends, contact exports, and data protection (one
contact's data exported or erased, data requests answered: storeflows.privacy).

Operator tooling: no Lambda function imports this package. DynamoDB goes through
storeflows.storage. PyYAML is a developer dependency, not in the layer, so it is imported only
where a file is read.

Publishing never changes a run in flight: the dispatcher snapshots a workflow's settings
into each run's input. Messages are read when a run sends, so a message applied today is
what every later send of every run uses; so is a sender profile a message names."""
