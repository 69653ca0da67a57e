# RDS PostgreSQL for hello, one DB instance per physical shard.
#
# Scaling knobs:
#   instance_class  vertical: every shard instance gets the same class
#   shard_count     horizontal: shards are named s1..sN; adding one is a
#                   tfvars change, then `hello shards add` / `rebalance`.
#
# The master password is generated, stored and rotated by RDS in Secrets
# Manager (manage_master_user_password): it never appears in Terraform
# configuration or state. The service reads it through ECS `secrets`.

locals {
  # Fixed for the life of the deployment; the service hashes keys onto it.
  logical_shards = 1024

  shard_names   = [for i in range(1, var.shard_count + 1) : "s${i}"]
  engine_major  = split(".", var.engine_version)[0]
  port          = 5432
  dsn_query     = "sslmode=require"
  shard_env_var = { for s in local.shard_names : s => "HELLO_${upper(s)}_PASSWORD" }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: RDS storage, Performance Insights and master-user secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
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

# Force TLS for every client connection.
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.name}-pg${local.engine_major}-"
  family      = "postgres${local.engine_major}"
  description = "${var.name}: PostgreSQL ${local.engine_major} with rds.force_ssl"

  parameter {
    name         = "rds.force_ssl"
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

  db_name                       = var.database_name
  username                      = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.this.arn

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

  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.this.arn

  tags = {
    Shard = each.key
  }
}
