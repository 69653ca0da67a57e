# ElastiCache (Redis OSS / Valkey) replication group for hello: rate limits,
# login failure logs and spent captcha ids shared between tasks.
#
# AUTH token: the Secrets Manager secret is the source of truth. A new
# value (ephemeral random_password) is written to the secret write-only
# whenever auth_token_version changes; the replication group's write-only
# auth_token_wo is then read back from that secret version, in the same
# apply. If the replication-group change fails, its auth_token_wo_version
# stays at the old number in state and the next apply sends the secret's
# value again: the two cannot stay apart. Neither the plan nor the state
# ever holds the value.
#
# Eviction: the limiter's failure logs and lockouts must never be evicted to
# make room, or an attacker could flush them by filling memory; the
# parameter group sets maxmemory-policy noeviction (Redis then refuses
# writes when full, the service falls back to its local limiter and the
# memory alarm fires).

locals {
  port           = 6379
  engine_major   = split(".", var.engine_version)[0]
  failover       = var.replica_count > 0
  primary_host   = aws_elasticache_replication_group.this.primary_endpoint_address
  secret_name    = "${var.name}/redis-auth-token"
  snapshot_final = var.final_snapshot_enabled ? "${var.name}-final" : null
  # Member clusters of a cluster-mode-disabled group are <id>-001, -002, ...
  member_clusters = [for i in range(1, var.replica_count + 2) : format("%s-%03d", var.name, i)]
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: ElastiCache at-rest encryption and the AUTH token secret"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-cache"
  target_key_id = aws_kms_key.this.key_id
}

ephemeral "random_password" "auth_token" {
  # ElastiCache accepts 16-128 printable characters except / " @ and
  # spaces; letters and digits only keep it URL- and shell-safe.
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth_token" {
  name                    = local.secret_name
  description             = "AUTH token of the ${var.name} ElastiCache replication group (HELLO_REDIS_PASSWORD)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "auth_token" {
  secret_id                = aws_secretsmanager_secret.auth_token.id
  secret_string_wo         = ephemeral.random_password.auth_token.result
  secret_string_wo_version = var.auth_token_version
}

# The token the replication group gets is read back from the secret version
# just written (never from the generator), so the secret is the one truth.
ephemeral "aws_secretsmanager_secret_version" "auth_token" {
  secret_id  = aws_secretsmanager_secret.auth_token.id
  version_id = aws_secretsmanager_secret_version.auth_token.version_id
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-${var.engine}${local.engine_major}"
  family      = "${var.engine}${local.engine_major}"
  description = "${var.name}: never evict the limiter's keys"

  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Private subnets for ${var.name} Redis"
  subnet_ids  = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-cache"
  description = "Redis of ${var.name}: 6379 from the service only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "Redis from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "hello shared state (${var.name})"

  engine               = var.engine
  engine_version       = var.engine_version
  node_type            = var.node_type
  parameter_group_name = aws_elasticache_parameter_group.this.name
  port                 = local.port

  num_cache_clusters         = 1 + var.replica_count
  automatic_failover_enabled = local.failover
  multi_az_enabled           = local.failover

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"

  # Write-only: sent on create and whenever auth_token_version changes,
  # always the value stored in the secret. ROTATE keeps the previous token
  # valid until the next change, so running tasks keep working while they
  # are replaced; AUTH changes are applied at once (apply_immediately), not
  # in the maintenance window, or the secret would lead the cluster by days.
  auth_token_wo              = ephemeral.aws_secretsmanager_secret_version.auth_token.secret_string
  auth_token_wo_version      = var.auth_token_version
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = var.snapshot_window
  maintenance_window         = var.maintenance_window
  final_snapshot_identifier  = local.snapshot_final
  auto_minor_version_upgrade = true
  apply_immediately          = true
}

# --- Alarms -------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "memory" {
  for_each = toset(local.member_clusters)

  alarm_name          = "${each.key}-memory"
  alarm_description   = "Redis node ${each.key} uses more than ${var.memory_alarm_percent}% of its memory: with noeviction it will soon refuse the limiter's writes (size up node_type)."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.memory_alarm_percent
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = { CacheClusterId = each.key }
}

resource "aws_cloudwatch_metric_alarm" "evictions" {
  for_each = toset(local.member_clusters)

  alarm_name          = "${each.key}-evictions"
  alarm_description   = "Redis node ${each.key} evicted keys: lockouts and failure logs may have been lost (check maxmemory-policy is noeviction)."
  namespace           = "AWS/ElastiCache"
  metric_name         = "Evictions"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = { CacheClusterId = each.key }
}
