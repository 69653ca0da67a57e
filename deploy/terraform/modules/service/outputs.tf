output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the current task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the service's task definition."
  value       = aws_ecs_task_definition.this.family
}

output "admin_task_definition_family" {
  description = "Family of the one-off admin task definition (aws ecs run-task; hello migrate unless the command is overridden)."
  value       = aws_ecs_task_definition.admin.family
}

output "container_name" {
  description = "Name of the hello container in the task definition (for run-task overrides)."
  value       = local.container_name
}

output "security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.this.id
}

output "subnet_ids" {
  description = "Subnets the tasks run in (for aws ecs run-task)."
  value       = var.subnet_ids
}

output "ecr_repository_url" {
  description = "URL of the ECR repository to push hello images to."
  value       = aws_ecr_repository.this.repository_url
}

output "log_group_name" {
  description = "CloudWatch Logs group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "execution_role_arn" {
  description = "ARN of the service's task execution role."
  value       = aws_iam_role.execution["serve"].arn
}

output "task_role_arn" {
  description = "ARN of the service's task role (rds-db:connect as the application user)."
  value       = aws_iam_role.task.arn
}

output "hello_secret_arn" {
  description = "ARN of the HELLO_SECRET secret."
  value       = aws_secretsmanager_secret.hello_secret.arn
}

output "readable_secret_arns" {
  description = "Exactly the secret ARNs each execution role may read: {serve = [...], admin = [...]}."
  value       = local.readable_secret_arns
}
