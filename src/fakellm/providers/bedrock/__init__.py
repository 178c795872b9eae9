"""AWS Bedrock Runtime: Converse and InvokeModel, with the AWS event-stream framing."""
