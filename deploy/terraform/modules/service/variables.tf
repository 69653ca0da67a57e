variable "name" {
  type        = string
  description = "Name of the cluster, service, task family and prefix of the other resources, e.g. hello-staging."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the service security group."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC: egress to endpoints, databases and cache stays inside it."

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0))
    error_message = "vpc_cidr_block must be a valid IPv4 CIDR."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the tasks (no public IPs are assigned)."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least two private subnets."
  }
}

variable "s3_prefix_list_id" {
  type        = string
  description = "Prefix list of the S3 gateway endpoint (ECR stores image layers in S3)."
}

variable "ecr_repository_name" {
  type        = string
  description = "Name of the ECR repository holding the hello image."
  default     = "hello"
}

variable "image_tag" {
  type        = string
  description = "Tag of the hello image to run; tags are immutable, so use a release version or commit SHA."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid, immutable Docker tag (not latest)."
  }
}

variable "image_retention_count" {
  type        = number
  description = "How many images the ECR lifecycle policy keeps."
  default     = 50
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the image: X86_64 or ARM64."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "cpu" {
  type        = number
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  type        = number
  description = "Fargate task memory in MiB (must fit the chosen cpu)."
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "stop_timeout_seconds" {
  type        = number
  description = "ECS stopTimeout: seconds between SIGTERM and SIGKILL; must exceed HELLO_SHUTDOWN_TIMEOUT."
  default     = 30

  validation {
    condition     = var.stop_timeout_seconds >= 15 && var.stop_timeout_seconds <= 120
    error_message = "stop_timeout_seconds must be between 15 and 120."
  }
}

variable "desired_count" {
  type        = number
  description = "Tasks started on the first apply; autoscaling owns the count afterwards."
  default     = 2
}

variable "min_capacity" {
  type        = number
  description = "Autoscaling floor (tasks)."
  default     = 2

  validation {
    condition     = var.min_capacity >= 1
    error_message = "min_capacity must be at least 1."
  }
}

variable "max_capacity" {
  type        = number
  description = "Autoscaling ceiling (tasks)."
  default     = 4

  validation {
    condition     = var.max_capacity >= var.min_capacity
    error_message = "max_capacity must be at least min_capacity."
  }
}

variable "cpu_target_percent" {
  type        = number
  description = "Target average CPU utilisation for target-tracking autoscaling."
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "memory_target_percent" {
  type        = number
  description = "Target average memory utilisation for target-tracking autoscaling."
  default     = 75

  validation {
    condition     = var.memory_target_percent >= 10 && var.memory_target_percent <= 90
    error_message = "memory_target_percent must be between 10 and 90."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the container log group in days."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "environment" {
  type        = map(string)
  description = "Non-secret HELLO_* settings of the service (hello serve); HELLO_ADDR, HELLO_ADMIN_ADDR and AWS_REGION are set by the module."

  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^HELLO_[A-Z0-9_]+$", k))])
    error_message = "environment keys must be HELLO_* variable names."
  }

  validation {
    condition = alltrue([
      for k in keys(var.environment) :
      k != "HELLO_SECRET" && !endswith(k, "_PASSWORD") && !endswith(k, "_TOKEN")
    ])
    error_message = "HELLO_SECRET and *_PASSWORD settings are secrets: pass them in var.secrets, never as plain environment."
  }
}

variable "secrets" {
  type = map(object({
    secret_arn = string
    json_key   = optional(string)
  }))
  description = "Secret settings of the service injected by ECS: NAME => {secret_arn, json_key}; valueFrom is the ARN (plus :json_key:: when set). HELLO_SECRET is added by the module."

  validation {
    condition = alltrue([
      for k, s in var.secrets :
      can(regex("^HELLO_[A-Z0-9_]+$", k)) && can(regex("^arn:[a-z-]+:secretsmanager:", s.secret_arn))
    ])
    error_message = "secrets keys must be HELLO_* names and every secret_arn a Secrets Manager ARN."
  }

  validation {
    condition     = !contains(keys(var.secrets), "HELLO_SECRET")
    error_message = "HELLO_SECRET is created and injected by the service module itself."
  }
}

variable "secret_kms_key_arns" {
  type        = list(string)
  description = "Customer-managed KMS keys that encrypt the secrets in var.secrets (kms:Decrypt through Secrets Manager is granted on exactly these)."
  default     = []
}

variable "admin_environment" {
  type        = map(string)
  description = "Non-secret HELLO_* settings of the one-off admin task (hello migrate, hello shards ...): the admin HELLO_SHARDS, HELLO_DB_APP_USER."

  validation {
    condition     = alltrue([for k in keys(var.admin_environment) : can(regex("^HELLO_[A-Z0-9_]+$", k))])
    error_message = "admin_environment keys must be HELLO_* variable names."
  }

  validation {
    condition = alltrue([
      for k in keys(var.admin_environment) :
      k != "HELLO_SECRET" && !endswith(k, "_PASSWORD") && !endswith(k, "_TOKEN")
    ])
    error_message = "HELLO_SECRET and *_PASSWORD settings are secrets: pass them in var.admin_secrets, never as plain environment."
  }
}

variable "admin_secrets" {
  type = map(object({
    secret_arn = string
    json_key   = optional(string)
  }))
  description = "Secret settings of the admin task (the database master passwords HELLO_S<N>_PASSWORD): NAME => {secret_arn, json_key}. HELLO_SECRET is added by the module."

  validation {
    condition = alltrue([
      for k, s in var.admin_secrets :
      can(regex("^HELLO_[A-Z0-9_]+$", k)) && can(regex("^arn:[a-z-]+:secretsmanager:", s.secret_arn))
    ])
    error_message = "admin_secrets keys must be HELLO_* names and every secret_arn a Secrets Manager ARN."
  }
}

variable "admin_secret_kms_key_arns" {
  type        = list(string)
  description = "Customer-managed KMS keys that encrypt the secrets in var.admin_secrets."
  default     = []
}

variable "admin_cpu" {
  type        = number
  description = "Fargate CPU units of the admin task."
  default     = 256
}

variable "admin_memory" {
  type        = number
  description = "Fargate memory of the admin task in MiB."
  default     = 512
}

variable "rds_iam_connect_arns" {
  type        = list(string)
  description = "rds-db:connect resources (arn:...:dbuser:<resource-id>/<user>) the service's task role may use: the application user on every shard."

  validation {
    condition     = alltrue([for a in var.rds_iam_connect_arns : can(regex("^arn:[a-z-]+:rds-db:[a-z0-9-]+:[0-9]{12}:dbuser:[^*/]+/[^*]+$", a))])
    error_message = "rds_iam_connect_arns must be exact dbuser ARNs (no wildcards)."
  }
}

variable "cloudwatch_agent_image_tag" {
  type        = string
  description = "Tag of public.ecr.aws/cloudwatch-agent/cloudwatch-agent, pulled through the ECR cache, that scrapes /metrics."
  default     = "1.300045.0b810"
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace of hello's own metrics (login outcomes, lockouts)."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic notified by the service alarms."
}

variable "failed_logins_alarm_per_5m" {
  type        = number
  description = "Alarm when more failed logins than this happen across the service in 5 minutes."
  default     = 500
}

variable "lockouts_alarm_per_5m" {
  type        = number
  description = "Alarm when more names or devices than this are locked out in 5 minutes."
  default     = 50
}

variable "hello_secret_version" {
  type        = number
  description = "Bump to generate a new HELLO_SECRET (write-only; never stored in state)."
  default     = 1

  validation {
    condition     = var.hello_secret_version >= 1 && floor(var.hello_secret_version) == var.hello_secret_version
    error_message = "hello_secret_version must be a positive whole number."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days Secrets Manager keeps HELLO_SECRET after deletion (0 deletes at once)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "allowed_cidr_blocks" {
  type        = list(string)
  description = "CIDRs admitted on port 8080 besides the load balancers (normally none)."
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_cidr_blocks : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "allowed_cidr_blocks must be valid CIDRs inside the network, never 0.0.0.0/0 or ::/0."
  }
}

variable "load_balancers" {
  type = map(object({
    target_group_arn  = string
    security_group_id = string
  }))
  description = "Load balancers (edge module instances) the service registers with, keyed by a static label: target group and security group of each."
  default     = {}
}

variable "wait_for_steady_state" {
  type        = bool
  description = "Make terraform apply wait until the service is stable (the circuit breaker rolls back bad deployments)."
  default     = true
}
