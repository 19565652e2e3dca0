"""Webhook intake: check, verify, normalise, enqueue. Nothing else.

One module per source (shopify, woocommerce, api: Storeflows' own event API), each with its
topic table and its mapping onto the canonical events (storeflows.events); `common` holds the
steps they share. A webhook is acknowledged only after its canonical event is on the event
queue (SQS keeps it until the dispatcher has processed it, with a dead-letter queue behind).
Every check runs before anything is written, so a rejected request changes nothing."""
