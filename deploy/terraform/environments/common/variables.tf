# --- Environment -------------------------------------------------------------

variable "aws_region" {
  type        = string
  description = "AWS region of the environment, e.g. eu-central-1."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as eu-central-1."
  }
}

variable "environment" {
  type        = string
  description = "Environment name; also the value of HELLO_ENV (staging or production)."

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Deletion protection of the database shards and the load balancer (required in production)."

  validation {
    condition     = var.environment != "production" || var.deletion_protection
    error_message = "deletion_protection must be true in production."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days Secrets Manager keeps a deleted HELLO_SECRET / Redis token secret (0 deletes at once)."
  default     = 7
}

variable "hello_secret_version" {
  type        = number
  description = "Bump to rotate HELLO_SECRET (a new value is generated ephemerally and written write-only)."
  default     = 1
}

variable "redis_auth_token_version" {
  type        = number
  description = "Bump to rotate the Redis AUTH token (written to the secret, then read from it into the replication group, in one apply)."
  default     = 1
}

variable "alarm_email_addresses" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alarm topic (each must confirm)."
  default     = []
}

# --- Network -----------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (/16 recommended)."
  default     = "10.0.0.0/16"
}

variable "az_count" {
  type        = number
  description = "Availability Zones to span (at least 2)."
  default     = 2
}

variable "log_retention_days" {
  type        = number
  description = "Retention in days of the container, RDS, WAF and flow logs and of the ALB access logs."
}

# --- Service -----------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Immutable tag of the hello image in the environment's ECR repository (release version or commit SHA)."
}

variable "task_cpu" {
  type        = number
  description = "Fargate CPU units per task (256 = 0.25 vCPU)."
}

variable "task_memory" {
  type        = number
  description = "Fargate memory per task in MiB."
}

variable "task_min_count" {
  type        = number
  description = "Minimum (and initial) number of tasks."
}

variable "task_max_count" {
  type        = number
  description = "Maximum number of tasks target-tracking autoscaling may run."
}

# --- Database ----------------------------------------------------------------

variable "db_instance_class" {
  type        = string
  description = "Vertical scaling knob: RDS instance class of every shard."
}

variable "db_shard_count" {
  type        = number
  description = "Horizontal scaling knob: number of physical PostgreSQL shards (s1..sN)."
  default     = 1
}

variable "db_engine_version" {
  type        = string
  description = "PostgreSQL version (major, or major.minor)."
  default     = "17"
}

variable "db_multi_az" {
  type        = bool
  description = "Multi-AZ standby for every shard (required in production)."

  validation {
    condition     = var.environment != "production" || var.db_multi_az
    error_message = "db_multi_az must be true in production."
  }
}

variable "db_allocated_storage" {
  type        = number
  description = "Initial storage per shard in GiB."
  default     = 20
}

variable "db_max_allocated_storage" {
  type        = number
  description = "Storage autoscaling ceiling per shard in GiB."
  default     = 100
}

variable "db_backup_retention_days" {
  type        = number
  description = "Days of automated RDS backups (point-in-time recovery)."
}

variable "backup_retention_days" {
  type        = number
  description = "Days AWS Backup keeps the daily snapshot of every shard (and its cross-region copy)."
}

variable "backup_copy_region" {
  type        = string
  description = "Region the daily AWS Backup snapshots are copied to (required in production); null: no copy."
  default     = null

  validation {
    condition     = var.environment != "production" || var.backup_copy_region != null
    error_message = "backup_copy_region is required in production (a region other than aws_region)."
  }

  validation {
    condition     = var.backup_copy_region == null || var.backup_copy_region != var.aws_region
    error_message = "backup_copy_region must differ from aws_region."
  }
}

# --- Cache -------------------------------------------------------------------

variable "cache_node_type" {
  type        = string
  description = "ElastiCache node type."
}

variable "cache_replica_count" {
  type        = number
  description = "Redis replicas besides the primary (> 0 enables automatic failover)."
  default     = 0
}

variable "cache_snapshot_retention_days" {
  type        = number
  description = "Days of Redis snapshots (0 disables)."
  default     = 1
}

# --- Entry points --------------------------------------------------------------

variable "private_entry_certificate_arn" {
  type        = string
  description = "ACM certificate of the private entry (internal ALB) host name; required in production (HELLO_ENV=production sets Secure cookies). Without it (staging) the entry serves plain HTTP inside the VPC."
  default     = null

  validation {
    condition     = var.environment != "production" || var.private_entry_certificate_arn != null
    error_message = "private_entry_certificate_arn is required in production: the private entry must serve HTTPS."
  }
}

variable "private_entry_cidr_blocks" {
  type        = list(string)
  description = "Private networks admitted to the private entry (VPN, peered VPCs); empty: the VPC only."
  default     = []

  validation {
    condition     = !contains(var.private_entry_cidr_blocks, "0.0.0.0/0")
    error_message = "private_entry_cidr_blocks must not admit 0.0.0.0/0: use the public edge for the internet."
  }
}

variable "edge_enabled" {
  type        = bool
  description = "Also create the public edge: an internet-facing ALB + WAF (off by default)."
  default     = false
}

variable "edge_certificate_arn" {
  type        = string
  description = "ACM certificate ARN for the ALB (required when edge_enabled)."
  default     = null

  validation {
    condition     = !var.edge_enabled || var.edge_certificate_arn != null
    error_message = "edge_certificate_arn is required when edge_enabled is true."
  }
}

variable "edge_rate_limit_per_ip" {
  type        = number
  description = "WAF: requests per IP per 5 minutes on all paths."
  default     = 2000
}

variable "edge_login_rate_limit_per_ip" {
  type        = number
  description = "WAF: requests per IP per 5 minutes on /api/login."
  default     = 100
}

# --- hello settings (non-secret) --------------------------------------------

variable "hello_log_level" {
  type        = string
  description = "HELLO_LOG_LEVEL."
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.hello_log_level)
    error_message = "hello_log_level must be debug, info, warn or error."
  }
}

variable "hello_db_timeout" {
  type        = string
  description = "HELLO_DB_TIMEOUT (Go duration)."
  default     = "2s"
}

variable "hello_db_max_conns" {
  type        = number
  description = "HELLO_DB_MAX_CONNS: connections per task per shard (mind max_connections of the instance class)."
  default     = 10
}

variable "hello_session_ttl" {
  type        = string
  description = "HELLO_SESSION_TTL (Go duration)."
  default     = "24h"
}

variable "hello_shutdown_timeout" {
  type        = string
  description = "HELLO_SHUTDOWN_TIMEOUT (Go duration); must stay below the ECS stopTimeout of 30s."
  default     = "10s"
}

variable "hello_hash_concurrency" {
  type        = number
  description = "HELLO_HASH_CONCURRENCY: parallel password hashes per task."
  default     = 2
}

variable "hello_sender_limit" {
  type        = string
  description = "HELLO_SENDER_LIMIT (count/window)."
  default     = "600/1m"
}

variable "hello_auth_sender_limit" {
  type        = string
  description = "HELLO_AUTH_SENDER_LIMIT (count/window)."
  default     = "20/1m"
}

variable "hello_login_max_failures" {
  type        = number
  description = "HELLO_LOGIN_MAX_FAILURES."
  default     = 3
}

variable "hello_login_window" {
  type        = string
  description = "HELLO_LOGIN_WINDOW (Go duration)."
  default     = "1h"
}

variable "hello_device_cookies" {
  type        = string
  description = "HELLO_DEVICE_COOKIES (on or off)."
  default     = "on"

  validation {
    condition     = contains(["on", "off"], var.hello_device_cookies)
    error_message = "hello_device_cookies must be on or off."
  }
}

variable "hello_captcha" {
  type        = string
  description = "HELLO_CAPTCHA (on or off)."
  default     = "on"

  validation {
    condition     = contains(["on", "off"], var.hello_captcha)
    error_message = "hello_captcha must be on or off."
  }
}

variable "hello_redis_failure" {
  type        = string
  description = "HELLO_REDIS_FAILURE: what limits do when Redis is down (local or deny)."
  default     = "local"

  validation {
    condition     = contains(["local", "deny"], var.hello_redis_failure)
    error_message = "hello_redis_failure must be local or deny."
  }
}
