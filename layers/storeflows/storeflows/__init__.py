"""Storeflows domain package, shipped to every function as the Lambda layer.

Handlers stay thin: they parse the request and call one function from here. Nothing in
this package imports test or local-stack code."""
