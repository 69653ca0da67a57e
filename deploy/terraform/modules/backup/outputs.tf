output "vault_arn" {
  description = "ARN of the primary backup vault."
  value       = aws_backup_vault.this.arn
}

output "copy_vault_arn" {
  description = "ARN of the cross-region copy vault (null without copy_region)."
  value       = local.copy ? aws_backup_vault.copy[0].arn : null
}

output "plan_id" {
  description = "ID of the backup plan."
  value       = aws_backup_plan.this.id
}
