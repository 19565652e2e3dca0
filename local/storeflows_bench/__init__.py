"""`make bench`: what a purchase costs in AWS calls, state transitions, dollars and
cold-start milliseconds, measured on the local stack (see README, "Cost and performance")."""
