output "shard_names" {
  description = "Names of the physical shards, s1..sN."
  value       = local.shard_names
}

output "logical_shards" {
  description = "Number of logical shards (fixed at 1024)."
  value       = local.logical_shards
}

output "endpoints" {
  description = "Host name of every shard, keyed by shard name."
  value       = { for s, db in aws_db_instance.shard : s => db.address }
}

output "instance_arns" {
  description = "ARN of every shard instance, keyed by shard name (AWS Backup selection)."
  value       = { for s, db in aws_db_instance.shard : s => db.arn }
}

output "master_user_secret_arns" {
  description = "ARN of the RDS-managed master-user secret of every shard, keyed by shard name."
  value       = { for s, db in aws_db_instance.shard : s => db.master_user_secret[0].secret_arn }
}

output "password_secrets" {
  description = "ECS secrets for the master passwords, for the admin task only: HELLO_S<N>_PASSWORD => {secret_arn, json_key}."
  value = {
    for s, db in aws_db_instance.shard : local.shard_env_var[s] => {
      secret_arn = db.master_user_secret[0].secret_arn
      json_key   = "password"
    }
  }
}

output "app_username" {
  description = "Database user of the service (IAM authentication, data grants only; created by hello migrate)."
  value       = var.app_username
}

output "iam_connect_arns" {
  description = "rds-db:connect resources of the application user, one per shard (the service's task role may connect as exactly this user)."
  value = [
    for s in local.shard_names :
    "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${aws_db_instance.shard[s].resource_id}/${var.app_username}"
  ]
}

output "shards_config" {
  description = "HELLO_SHARDS for the service: the application user, no password (HELLO_DB_IAM_AUTH=on signs a token per connection), TLS verified."
  value = join("\n", concat(
    [
      "logical_shards: ${local.logical_shards}",
      "shards:",
    ],
    [
      for s in local.shard_names :
      "  - {name: ${s}, dsn: \"postgres://${var.app_username}@${aws_db_instance.shard[s].address}:${local.port}/${var.database_name}?${local.dsn_query}\"}"
    ],
  ))
}

output "admin_shards_config" {
  description = "HELLO_SHARDS for admin commands (migrate, shards): the master user with $${HELLO_S<N>_PASSWORD} placeholders the service expands at load, TLS verified."
  value = join("\n", concat(
    [
      "logical_shards: ${local.logical_shards}",
      "shards:",
    ],
    [
      for s in local.shard_names :
      "  - {name: ${s}, dsn: \"postgres://${var.master_username}:$${${local.shard_env_var[s]}}@${aws_db_instance.shard[s].address}:${local.port}/${var.database_name}?${local.dsn_query}\"}"
    ],
  ))
}

output "kms_key_arn" {
  description = "KMS key encrypting storage, logs and the master-user secrets (the admin task's execution role decrypts the secrets with it)."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "Security group of the shard instances."
  value       = aws_security_group.this.id
}
