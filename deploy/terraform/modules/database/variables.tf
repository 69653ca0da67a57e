variable "name" {
  type        = string
  description = "Name prefix for the database resources, e.g. hello-staging."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC that hosts the database security group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (at least two AZs) for the DB subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two subnets in different AZs."
  }
}

variable "client_security_group_ids" {
  type        = map(string)
  description = "Security groups allowed to connect on 5432, keyed by a static label (e.g. {service = sg-...})."
}

variable "shard_count" {
  type        = number
  description = "Horizontal scaling knob: number of physical shards (one RDS instance each, named s1..sN)."
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 64 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number between 1 and 64."
  }
}

variable "instance_class" {
  type        = string
  description = "Vertical scaling knob: RDS instance class of every shard, e.g. db.t4g.medium."

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_class))
    error_message = "instance_class must look like db.<family>.<size>, e.g. db.t4g.medium."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL engine version; a major version (\"17\") lets RDS pick the latest minor."
  default     = "17"

  validation {
    condition     = can(regex("^[0-9]{2}(\\.[0-9]+)?$", var.engine_version)) && tonumber(split(".", var.engine_version)[0]) >= 15
    error_message = "engine_version must be PostgreSQL 15 or newer, e.g. \"17\" or \"17.5\"."
  }
}

variable "multi_az" {
  type        = bool
  description = "Run a synchronous standby in a second AZ for every shard."
  default     = false
}

variable "allocated_storage" {
  type        = number
  description = "Initial gp3 storage per shard in GiB."
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20
    error_message = "allocated_storage must be at least 20 GiB."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Upper bound for storage autoscaling per shard in GiB (must be >= allocated_storage)."
  default     = 100
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery) to keep."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (0 would disable backups)."
  }
}

variable "backup_window" {
  type        = string
  description = "Daily UTC window for automated backups, hh24:mi-hh24:mi."
  default     = "02:00-03:00"
}

variable "maintenance_window" {
  type        = string
  description = "Weekly UTC maintenance window, ddd:hh24:mi-ddd:hh24:mi."
  default     = "sun:03:30-sun:04:30"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the shard instances (true in production)."
  default     = true
}

variable "apply_immediately" {
  type        = bool
  description = "Apply instance changes (e.g. instance_class) now instead of in the maintenance window."
  default     = false
}

variable "database_name" {
  type        = string
  description = "Name of the database created on every shard."
  default     = "hello"
}

variable "master_username" {
  type        = string
  description = "Master user name (admin commands only); its password is managed and rotated by RDS in Secrets Manager."
  default     = "hello_admin"
}

variable "log_min_duration_statement_ms" {
  type        = number
  description = "Log statements slower than this many milliseconds (-1 disables)."
  default     = 1000
}

variable "app_username" {
  type        = string
  description = "Database user the service connects as with IAM authentication (hello migrate creates it with rds_iam and data grants only)."
  default     = "hello_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.app_username))
    error_message = "app_username must be a plain PostgreSQL role name (lower case, digits, underscores)."
  }
}

variable "ca_bundle_path" {
  type        = string
  description = "Path of the RDS CA bundle inside the image; every DSN verifies the server against it (sslmode=verify-full)."
  default     = "/etc/hello/rds-ca.pem"
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the RDS log groups (postgresql, upgrade) in days."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic notified by the shard alarms (CPU, free storage, replication lag)."
}

variable "cpu_alarm_percent" {
  type        = number
  description = "Alarm when a shard's average CPU stays above this for 10 minutes."
  default     = 80
}

variable "free_storage_alarm_gib" {
  type        = number
  description = "Alarm when a shard has less free storage than this many GiB."
  default     = 5
}

variable "replication_lag_alarm_mib" {
  type        = number
  description = "Alarm when a replication slot (a shard move) is more than this many MiB behind for 15 minutes."
  default     = 1024
}
