output "ecr_repository_url" {
  description = "Push hello images here (tags are immutable)."
  value       = module.service.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "ECS service name."
  value       = module.service.service_name
}

output "task_definition_family" {
  description = "Task definition family of the service."
  value       = module.service.task_definition_family
}

output "admin_task_definition_family" {
  description = "Task definition family of the one-off admin task (hello migrate, hello shards ...)."
  value       = module.service.admin_task_definition_family
}

output "private_entry_url" {
  description = "Base URL of the private entry (internal ALB, reachable from the VPC and private_entry_cidr_blocks)."
  value       = module.private_entry.url
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (subscribe a pager or chat integration)."
  value       = module.alerting.topic_arn
}

output "database_endpoints" {
  description = "Shard name => PostgreSQL host."
  value       = module.database.endpoints
}

output "redis_url" {
  description = "HELLO_REDIS_URL of the environment (no password)."
  value       = module.cache.url
}

output "load_balancer_dns_name" {
  description = "DNS name of the public edge ALB (null when edge_enabled is false)."
  value       = var.edge_enabled ? module.edge[0].dns_name : null
}

output "run_task_network_configuration" {
  description = "Value for aws ecs run-task --network-configuration (private subnets, service security group, no public IP)."
  value = jsonencode({
    awsvpcConfiguration = {
      subnets        = module.service.subnet_ids
      securityGroups = [module.service.security_group_id]
      assignPublicIp = "DISABLED"
    }
  })
}

output "migrate_command" {
  description = "One-off ECS task that runs `hello migrate` (schema and application user) with the admin task definition; run it on the first apply and before each release."
  value = join(" ", [
    "aws ecs run-task",
    "--cluster ${module.service.cluster_name}",
    "--task-definition ${module.service.admin_task_definition_family}",
    "--launch-type FARGATE",
    "--network-configuration '${jsonencode({ awsvpcConfiguration = { subnets = module.service.subnet_ids, securityGroups = [module.service.security_group_id], assignPublicIp = "DISABLED" } })}'",
    "--overrides '${jsonencode({ containerOverrides = [{ name = module.service.container_name, command = ["migrate"] }] })}'",
  ])
}
