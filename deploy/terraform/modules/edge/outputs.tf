output "dns_name" {
  description = "DNS name of the load balancer (point an alias record at it)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "url" {
  description = "Base URL of the entry (https:// with a certificate, http:// otherwise)."
  value       = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "target_group_arn" {
  description = "Target group the ECS service registers its tasks in; known only once a listener forwards to it."
  value       = aws_lb_target_group.this.arn

  # ECS refuses a service whose target group has no load balancer yet
  # ("target group does not have an associated load balancer"): whoever uses
  # this output waits for the listeners.
  depends_on = [aws_lb_listener.https, aws_lb_listener.http]
}

output "security_group_id" {
  description = "Security group of the load balancer (admitted by the service on 8080)."
  value       = aws_security_group.alb.id
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "access_log_bucket" {
  description = "S3 bucket receiving the access logs."
  value       = aws_s3_bucket.access_logs.id
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL (null when waf_enabled is false)."
  value       = var.waf_enabled ? aws_wafv2_web_acl.this[0].arn : null
}
