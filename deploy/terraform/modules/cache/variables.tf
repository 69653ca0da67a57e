variable "name" {
  type        = string
  description = "Name prefix (and replication group id) for the cache resources, e.g. hello-staging."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC that hosts the cache security group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (at least two AZs) for the cache subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets in different AZs."
  }
}

variable "client_security_group_ids" {
  type        = map(string)
  description = "Security groups allowed to connect on 6379, keyed by a static label (e.g. {service = sg-...})."
}

variable "engine" {
  type        = string
  description = "Cache engine: redis (Redis OSS) or valkey."
  default     = "redis"

  validation {
    condition     = contains(["redis", "valkey"], var.engine)
    error_message = "engine must be redis or valkey."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version (major.minor), e.g. 7.1."
  default     = "7.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be major.minor, e.g. 7.1."
  }
}

variable "node_type" {
  type        = string
  description = "Node type of every cache node, e.g. cache.t4g.small."

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must look like cache.<family>.<size>."
  }
}

variable "replica_count" {
  type        = number
  description = "Read replicas besides the primary; > 0 turns on automatic failover and Multi-AZ."
  default     = 0

  validation {
    condition     = var.replica_count >= 0 && var.replica_count <= 5
    error_message = "replica_count must be between 0 and 5."
  }
}

variable "auth_token_version" {
  type        = number
  description = "Bump to generate a new AUTH token: written to the secret, then read from it into the replication group."
  default     = 1

  validation {
    condition     = var.auth_token_version >= 1 && floor(var.auth_token_version) == var.auth_token_version
    error_message = "auth_token_version must be a positive whole number."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days Secrets Manager keeps the AUTH token secret after deletion (0 deletes at once)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots to keep (0 disables snapshots)."
  default     = 1
}

variable "snapshot_window" {
  type        = string
  description = "Daily UTC snapshot window, hh24:mi-hh24:mi."
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  type        = string
  description = "Weekly UTC maintenance window, ddd:hh24:mi-ddd:hh24:mi."
  default     = "sun:04:30-sun:05:30"
}

variable "final_snapshot_enabled" {
  type        = bool
  description = "Take a final snapshot (<name>-final) when the replication group is deleted (the environments set it in production)."
  default     = false
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic notified by the memory and eviction alarms."
}

variable "memory_alarm_percent" {
  type        = number
  description = "Alarm when a node uses more than this percentage of its memory."
  default     = 80
}
