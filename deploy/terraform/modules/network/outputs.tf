output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (tasks, databases, cache), one per AZ."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (empty unless public_subnets_enabled)."
  value       = aws_subnet.public[*].id
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets (empty unless public_subnets_enabled)."
  value       = aws_subnet.public[*].cidr_block
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint, for security-group egress to ECR image layers."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "flow_log_group_name" {
  description = "CloudWatch Logs group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}

output "lb_subnet_ids" {
  description = "IDs of the private load-balancer subnets (internal entry ALB), one per AZ."
  value       = aws_subnet.lb[*].id
}

output "lb_subnet_cidrs" {
  description = "CIDRs of the load-balancer subnets: the only internal sources hello trusts for X-Forwarded-For."
  value       = aws_subnet.lb[*].cidr_block
}
