output "primary_endpoint_address" {
  description = "Host name of the primary (follows failover)."
  value       = local.primary_host
}

output "port" {
  description = "Port of the replication group."
  value       = local.port
}

output "url" {
  description = "Value for HELLO_REDIS_URL: TLS scheme, host and port, no password."
  value       = "rediss://${local.primary_host}:${local.port}"
}

output "auth_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the AUTH token (HELLO_REDIS_PASSWORD)."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the cache and its AUTH token secret (the task execution role needs kms:Decrypt on it)."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "Security group of the cache nodes."
  value       = aws_security_group.this.id
}
