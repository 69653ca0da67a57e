variable "name" {
  type        = string
  description = "Name of the vault, plan and role prefix, e.g. hello-production."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "resource_arns" {
  type        = list(string)
  description = "ARNs of the resources to back up (the RDS shard instances)."
}

variable "retention_days" {
  type        = number
  description = "Days a daily backup (and its cross-region copy) is kept."

  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days must be at least 1."
  }
}

variable "schedule" {
  type        = string
  description = "When the daily backup starts (cron, UTC); after the RDS backup window."
  default     = "cron(0 4 * * ? *)"
}

variable "copy_region" {
  type        = string
  description = "Region of the copy vault each backup is copied to; null: no cross-region copy."
  default     = null
}
