"""The send pipeline: what a send step is asked (requests), decides and renders (sending,
rendering, mail), the one SES call (ses), coupons, and the unsubscribe links every marketing
message carries."""
