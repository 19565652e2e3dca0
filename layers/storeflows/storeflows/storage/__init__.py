"""The only package that talks to DynamoDB: one module per aggregate, the shared helpers in
`dynamodb`, and every key in `keys`."""
