# Root module of one hello environment. The staging and production roots
# are identical apart from backend.tf (state key) and terraform.tfvars:
# environments differ by values, not code.

locals {
  name       = "hello-${var.environment}"
  production = var.environment == "production"

  # The app believes X-Forwarded-For only from the load balancers' subnets:
  # the private entry's (always) and the public edge's (when enabled). The
  # tasks' own subnets are not in the list, so nothing running beside them
  # can choose its client address.
  trusted_proxies = concat(
    module.network.lb_subnet_cidrs,
    var.edge_enabled ? module.network.public_subnet_cidrs : [],
  )

  # Settings both the service and the admin task need.
  hello_common_environment = {
    HELLO_ENV       = var.environment
    HELLO_DB        = "shards:"
    HELLO_LOG_LEVEL = var.hello_log_level
  }

  # hello serve: the application user with IAM auth (a token per new
  # connection, so the weekly master-password rotation never reaches it)
  # and no migrations at start.
  hello_environment = merge(local.hello_common_environment, {
    HELLO_SHARDS             = module.database.shards_config
    HELLO_DB_IAM_AUTH        = "on"
    HELLO_DB_TIMEOUT         = var.hello_db_timeout
    HELLO_DB_MAX_CONNS       = tostring(var.hello_db_max_conns)
    HELLO_SESSION_TTL        = var.hello_session_ttl
    HELLO_SHUTDOWN_TIMEOUT   = var.hello_shutdown_timeout
    HELLO_HASH_CONCURRENCY   = tostring(var.hello_hash_concurrency)
    HELLO_SENDER_LIMIT       = var.hello_sender_limit
    HELLO_AUTH_SENDER_LIMIT  = var.hello_auth_sender_limit
    HELLO_LOGIN_MAX_FAILURES = tostring(var.hello_login_max_failures)
    HELLO_LOGIN_WINDOW       = var.hello_login_window
    HELLO_DEVICE_COOKIES     = var.hello_device_cookies
    HELLO_CAPTCHA            = var.hello_captcha
    HELLO_REDIS_URL          = module.cache.url
    HELLO_REDIS_FAILURE      = var.hello_redis_failure
    HELLO_TRUSTED_PROXIES    = join(",", local.trusted_proxies)
    HELLO_CLIENT_IP_HEADER   = "X-Forwarded-For" # the ALBs append the peer to it
  })

  # Secret settings of the service: ARNs only. HELLO_SECRET is added by the
  # service module; the database master passwords are not here at all.
  hello_secrets = {
    HELLO_REDIS_PASSWORD = {
      secret_arn = module.cache.auth_token_secret_arn
      json_key   = null
    }
  }

  # The one-off admin task (hello migrate, hello shards ...): the master user
  # through the RDS-managed secrets; migrate creates the application user.
  hello_admin_environment = merge(local.hello_common_environment, {
    HELLO_SHARDS      = module.database.admin_shards_config
    HELLO_DB_APP_USER = module.database.app_username
  })

  # The entries the service registers with: the private one always, the
  # public edge when enabled.
  load_balancers = merge(
    {
      private = {
        target_group_arn  = module.private_entry.target_group_arn
        security_group_id = module.private_entry.security_group_id
      }
    },
    var.edge_enabled ? {
      edge = {
        target_group_arn  = module.edge[0].target_group_arn
        security_group_id = module.edge[0].security_group_id
      }
    } : {},
  )
}

module "alerting" {
  source = "../../modules/alerting"

  name            = local.name
  email_addresses = var.alarm_email_addresses
}

module "network" {
  source = "../../modules/network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  az_count                = var.az_count
  public_subnets_enabled  = var.edge_enabled
  flow_log_retention_days = var.log_retention_days
}

module "database" {
  source = "../../modules/database"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = { service = module.service.security_group_id }

  shard_count           = var.db_shard_count
  instance_class        = var.db_instance_class
  engine_version        = var.db_engine_version
  multi_az              = var.db_multi_az
  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.deletion_protection
  log_retention_days    = var.log_retention_days
  alarm_topic_arn       = module.alerting.topic_arn
}

module "backup" {
  source = "../../modules/backup"

  name           = local.name
  resource_arns  = values(module.database.instance_arns)
  retention_days = var.backup_retention_days
  copy_region    = var.backup_copy_region
}

module "cache" {
  source = "../../modules/cache"

  name                      = local.name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = { service = module.service.security_group_id }

  node_type                   = var.cache_node_type
  replica_count               = var.cache_replica_count
  snapshot_retention_days     = var.cache_snapshot_retention_days
  final_snapshot_enabled      = local.production
  auth_token_version          = var.redis_auth_token_version
  secret_recovery_window_days = var.secret_recovery_window_days
  alarm_topic_arn             = module.alerting.topic_arn
}

# The way in: an internal ALB in the load-balancer subnets, reachable only
# from private_entry_cidr_blocks (the VPC by default), HTTPS with
# private_entry_certificate_arn (required in production).
module "private_entry" {
  source = "../../modules/edge"

  name                = "${local.name}-int"
  internal            = true
  vpc_id              = module.network.vpc_id
  vpc_cidr_block      = module.network.vpc_cidr_block
  subnet_ids          = module.network.lb_subnet_ids
  ingress_cidr_blocks = coalescelist(var.private_entry_cidr_blocks, [module.network.vpc_cidr_block])
  certificate_arn     = var.private_entry_certificate_arn
  deletion_protection = var.deletion_protection
  log_retention_days  = var.log_retention_days
  alarm_topic_arn     = module.alerting.topic_arn
}

# The optional public edge: internet-facing ALB + WAF.
module "edge" {
  source = "../../modules/edge"
  count  = var.edge_enabled ? 1 : 0

  name                     = local.name
  internal                 = false
  vpc_id                   = module.network.vpc_id
  vpc_cidr_block           = module.network.vpc_cidr_block
  subnet_ids               = module.network.public_subnet_ids
  ingress_cidr_blocks      = ["0.0.0.0/0"]
  certificate_arn          = var.edge_certificate_arn
  waf_enabled              = true
  managed_rules_count_only = !local.production
  rate_limit_per_ip        = var.edge_rate_limit_per_ip
  login_rate_limit_per_ip  = var.edge_login_rate_limit_per_ip
  deletion_protection      = var.deletion_protection
  log_retention_days       = var.log_retention_days
  alarm_topic_arn          = module.alerting.topic_arn
}

module "service" {
  source = "../../modules/service"

  name              = local.name
  vpc_id            = module.network.vpc_id
  vpc_cidr_block    = module.network.vpc_cidr_block
  subnet_ids        = module.network.private_subnet_ids
  s3_prefix_list_id = module.network.s3_prefix_list_id

  ecr_repository_name = local.name
  image_tag           = var.image_tag
  cpu                 = var.task_cpu
  memory              = var.task_memory
  desired_count       = var.task_min_count
  min_capacity        = var.task_min_count
  max_capacity        = var.task_max_count
  log_retention_days  = var.log_retention_days

  environment                 = local.hello_environment
  secrets                     = local.hello_secrets
  secret_kms_key_arns         = [module.cache.kms_key_arn]
  admin_environment           = local.hello_admin_environment
  admin_secrets               = module.database.password_secrets
  admin_secret_kms_key_arns   = [module.database.kms_key_arn]
  rds_iam_connect_arns        = module.database.iam_connect_arns
  hello_secret_version        = var.hello_secret_version
  secret_recovery_window_days = var.secret_recovery_window_days

  load_balancers    = local.load_balancers
  metrics_namespace = "hello/${var.environment}"
  alarm_topic_arn   = module.alerting.topic_arn
}
