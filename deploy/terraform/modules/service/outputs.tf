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
  description = "Family of the task definition (for aws ecs run-task)."
  value       = aws_ecs_task_definition.this.family
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
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "hello_secret_arn" {
  description = "ARN of the HELLO_SECRET secret."
  value       = aws_secretsmanager_secret.hello_secret.arn
}

output "readable_secret_arns" {
  description = "Exactly the secret ARNs the execution role may read."
  value       = local.readable_secret_arns
}
