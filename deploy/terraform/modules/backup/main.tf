# AWS Backup for the hello database shards: a daily snapshot into a vault
# encrypted with its own KMS key, kept retention_days, and (production)
# copied to a vault in a second region so losing the region or the account's
# primary vault does not lose the data. This is on top of RDS's own
# automated backups (point-in-time recovery inside the region).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  copy       = var.copy_region != null
}

resource "aws_kms_key" "vault" {
  description             = "${var.name}: AWS Backup vault"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_backup_vault" "this" {
  name        = var.name
  kms_key_arn = aws_kms_key.vault.arn
}

# The copy lives in another region: the provider's per-resource region
# argument puts the key and the vault there without a second provider.
resource "aws_kms_key" "copy" {
  count = local.copy ? 1 : 0

  region                  = var.copy_region
  description             = "${var.name}: AWS Backup copy vault"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_backup_vault" "copy" {
  count = local.copy ? 1 : 0

  region      = var.copy_region
  name        = "${var.name}-copy"
  kms_key_arn = aws_kms_key.copy[0].arn
}

resource "aws_backup_plan" "this" {
  name = var.name

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.this.name
    schedule          = var.schedule
    start_window      = 60
    completion_window = 360

    lifecycle {
      delete_after = var.retention_days
    }

    dynamic "copy_action" {
      for_each = local.copy ? [aws_backup_vault.copy[0].arn] : []

      content {
        destination_vault_arn = copy_action.value

        lifecycle {
          delete_after = var.retention_days
        }
      }
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "backup" {
  name               = "${var.name}-backup"
  description        = "AWS Backup: snapshot and copy the hello shards"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset(["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"])

  role       = aws_iam_role.backup.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/${each.key}"
}

resource "aws_backup_selection" "shards" {
  name         = "${var.name}-shards"
  plan_id      = aws_backup_plan.this.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = var.resource_arns
}
