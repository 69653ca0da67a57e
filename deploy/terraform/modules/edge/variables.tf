variable "name" {
  type        = string
  description = "Name of the load balancer, target group and web ACL, e.g. hello-production."

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

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets (at least two AZs) for the internet-facing load balancer."

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must name at least two subnets in different AZs."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ARN of the ACM certificate served on port 443."

  validation {
    condition     = can(regex("^arn:[a-z-]+:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS negotiation policy of the HTTPS listener."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "ingress_cidr_blocks" {
  type        = list(string)
  description = "IPv4 CIDRs admitted to the load balancer on 80/443."
  default     = ["0.0.0.0/0"]
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
  description = "Protect the load balancer from deletion."
  default     = false
}
