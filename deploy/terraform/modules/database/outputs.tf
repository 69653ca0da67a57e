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

output "master_user_secret_arns" {
  description = "ARN of the RDS-managed master-user secret of every shard, keyed by shard name."
  value       = { for s, db in aws_db_instance.shard : s => db.master_user_secret[0].secret_arn }
}

output "password_secrets" {
  description = "ECS secrets for the shard passwords: HELLO_S<N>_PASSWORD => {secret_arn, json_key}."
  value = {
    for s, db in aws_db_instance.shard : local.shard_env_var[s] => {
      secret_arn = db.master_user_secret[0].secret_arn
      json_key   = "password"
    }
  }
}

output "shards_config" {
  description = "YAML for HELLO_SHARDS; $${HELLO_S<N>_PASSWORD} placeholders are expanded by the service at load."
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
  description = "KMS key encrypting storage and the master-user secrets (the task execution role needs kms:Decrypt on it)."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "Security group of the shard instances."
  value       = aws_security_group.this.id
}
