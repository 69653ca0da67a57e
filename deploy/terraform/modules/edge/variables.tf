variable "name" {
  type        = string
  description = "Name of the load balancer, target group and web ACL, e.g. hello-production or hello-production-int."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the load balancer and target group."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC: the load balancer may only reach port 8080 inside it."
}

variable "internal" {
  type        = bool
  description = "true: an internal load balancer reachable only from ingress_cidr_blocks inside the private network (the private entry); false: internet-facing (the public edge)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets (at least two AZs): the load-balancer subnets for an internal entry, public subnets for the edge."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets in different AZs."
  }
}

variable "ingress_cidr_blocks" {
  type        = list(string)
  description = "IPv4 CIDRs admitted to the listener (the VPC and peered networks for an internal entry)."

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "ingress_cidr_blocks must list valid IPv4 CIDRs."
  }

  validation {
    condition     = !var.internal || !contains(var.ingress_cidr_blocks, "0.0.0.0/0")
    error_message = "an internal entry must not admit 0.0.0.0/0: list the private networks that may reach it."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate served on 443; null serves plain HTTP on 80 (allowed for an internal entry only)."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:[a-z-]+:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }

  validation {
    condition     = var.internal || var.certificate_arn != null
    error_message = "an internet-facing load balancer needs certificate_arn (HTTPS only)."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS negotiation policy of the HTTPS listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "waf_enabled" {
  type        = bool
  description = "Attach a WAF web ACL: AWS IP reputation list, per-IP rate limits, the AWS Common and Known-bad-inputs rule groups, logging."
  default     = false
}

variable "managed_rules_count_only" {
  type        = bool
  description = "Run the AWS managed rule groups in count mode (they label and log, never block): for staging, to see false positives first."
  default     = false
}

variable "rate_limit_per_ip" {
  type        = number
  description = "Requests one IP may send in rate_window_seconds before WAF blocks it (all paths)."
  default     = 2000

  validation {
    condition     = var.rate_limit_per_ip >= 10
    error_message = "rate_limit_per_ip must be at least 10 (the WAF minimum)."
  }
}

variable "login_rate_limit_per_ip" {
  type        = number
  description = "Requests one IP may send to /api/login in rate_window_seconds (stricter than rate_limit_per_ip)."
  default     = 100

  validation {
    condition     = var.login_rate_limit_per_ip >= 10
    error_message = "login_rate_limit_per_ip must be at least 10 (the WAF minimum)."
  }
}

variable "rate_window_seconds" {
  type        = number
  description = "Evaluation window of the rate-based rules: 60, 120, 300 or 600 seconds."
  default     = 300

  validation {
    condition     = contains([60, 120, 300, 600], var.rate_window_seconds)
    error_message = "rate_window_seconds must be 60, 120, 300 or 600."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the load balancer from deletion (and keep its log bucket when not empty)."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Days access logs (S3) and WAF logs (CloudWatch Logs) are kept."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic notified when an alarm of this load balancer changes state."
}

variable "target_5xx_percent" {
  type        = number
  description = "Alarm when more than this percentage of requests get a 5xx from the tasks."
  default     = 5
}

variable "target_response_time_seconds" {
  type        = number
  description = "Alarm when the p99 target response time exceeds this many seconds."
  default     = 1
}
