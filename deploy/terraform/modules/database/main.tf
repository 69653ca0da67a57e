# RDS PostgreSQL for hello, one DB instance per physical shard.
#
# Scaling knobs:
#   instance_class  vertical: every shard instance gets the same class
#   shard_count     horizontal: shards are named s1..sN; adding one is a
#                   tfvars change, then `hello shards add` / `rebalance`.
#
# Two ways in, two users:
#   the service (serve) connects as var.app_username with IAM database
#   authentication: a 15-minute token signed per new connection by the task
#   role, so nothing it holds expires with a password rotation;
#   admin commands (hello migrate, hello shards ...) connect as the master
#   user with the password RDS generates, stores and rotates in Secrets
#   Manager (manage_master_user_password): it never appears in Terraform
#   configuration or state, and only the one-off admin task can read it.
# Every DSN verifies the server certificate against the RDS CA bundle baked
# into the image (sslmode=verify-full).

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Fixed for the life of the deployment; the service hashes keys onto it.
  logical_shards = 1024

  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  shard_names   = [for i in range(1, var.shard_count + 1) : "s${i}"]
  engine_major  = split(".", var.engine_version)[0]
  port          = 5432
  dsn_query     = "sslmode=verify-full&sslrootcert=${var.ca_bundle_path}"
  shard_env_var = { for s in local.shard_names : s => "HELLO_${upper(s)}_PASSWORD" }

  # Log groups RDS exports to, created here first so they get retention and
  # encryption (RDS would create them without either).
  log_exports = ["postgresql", "upgrade"]
  log_groups = {
    for pair in setproduct(local.shard_names, local.log_exports) :
    "${pair[0]}-${pair[1]}" => "/aws/rds/instance/${var.name}-${pair[0]}/${pair[1]}"
  }
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsForTheRdsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"] # in a key policy, "*" is this key

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/rds/instance/${var.name}-*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: RDS storage, Performance Insights, RDS logs and master-user secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_cloudwatch_log_group" "rds" {
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-database"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Private subnets for ${var.name} PostgreSQL shards"
  subnet_ids  = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-database"
  description = "PostgreSQL shards of ${var.name}: 5432 from the service only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = var.client_security_group_ids

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.key}"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

# Force TLS for every client connection; logical replication for the
# online shard moves (hello shards move copies a logical shard with a
# publication/subscription pair).
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg${local.engine_major}-"
  family      = "postgres${local.engine_major}"
  description = "${var.name}: PostgreSQL ${local.engine_major} with rds.force_ssl and logical replication"

  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name         = "rds.logical_replication"
    value        = "1"
    apply_method = "pending-reboot"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = tostring(var.log_min_duration_statement_ms)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "shard" {
  for_each = toset(local.shard_names)

  identifier     = "${var.name}-${each.key}"
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  port           = local.port

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_name                             = var.database_name
  username                            = var.master_username
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = aws_kms_key.this.arn
  iam_database_authentication_enabled = true

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false

  backup_retention_period   = var.backup_retention_days
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-${each.key}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = var.apply_immediately

  enabled_cloudwatch_logs_exports = local.log_exports
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.this.arn

  tags = {
    Shard = each.key
  }

  depends_on = [aws_cloudwatch_log_group.rds]
}

# --- Alarms -------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "cpu" {
  for_each = aws_db_instance.shard

  alarm_name          = "${each.value.identifier}-cpu"
  alarm_description   = "Shard ${each.key}: CPU above ${var.cpu_alarm_percent}% for 10 minutes (size up db_instance_class or add a shard)."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.cpu_alarm_percent
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = { DBInstanceIdentifier = each.value.identifier }
}

resource "aws_cloudwatch_metric_alarm" "free_storage" {
  for_each = aws_db_instance.shard

  alarm_name          = "${each.value.identifier}-free-storage"
  alarm_description   = "Shard ${each.key}: less than ${var.free_storage_alarm_gib} GiB free (storage autoscaling may have reached max_allocated_storage, or a replication slot holds WAL)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.free_storage_alarm_gib * 1073741824
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = { DBInstanceIdentifier = each.value.identifier }
}

# Replication lag. The shards have no read replicas (the Multi-AZ standby is
# synchronous and publishes no lag); what replicates is a shard move's
# logical subscription, and a stalled one keeps WAL on the source until its
# disk fills. OldestReplicationSlotLag is that lag in bytes.
resource "aws_cloudwatch_metric_alarm" "replication_lag" {
  for_each = aws_db_instance.shard

  alarm_name          = "${each.value.identifier}-replication-lag"
  alarm_description   = "Shard ${each.key}: a replication slot (a shard move's subscription) is more than ${var.replication_lag_alarm_mib} MiB behind for 15 minutes: check hello shards status, finish or abort the move."
  namespace           = "AWS/RDS"
  metric_name         = "OldestReplicationSlotLag"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.replication_lag_alarm_mib * 1048576
  treat_missing_data  = "notBreaching" # no slot, no lag
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  dimensions          = { DBInstanceIdentifier = each.value.identifier }
}
