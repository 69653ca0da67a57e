# Root module of one hello environment. The staging and production roots
# are identical apart from backend.tf (state key) and terraform.tfvars:
# environments differ by values, not code.

locals {
  name = "hello-${var.environment}"

  # The app trusts X-Forwarded-For only from the ALB's subnets, and only
  # when the edge ALB exists.
  trusted_proxies = var.edge_enabled ? { HELLO_TRUSTED_PROXIES = join(",", module.network.public_subnet_cidrs) } : {}

  hello_environment = merge({
    HELLO_ENV                = var.environment
    HELLO_DB                 = "shards:"
    HELLO_SHARDS             = module.database.shards_config
    HELLO_DB_TIMEOUT         = var.hello_db_timeout
    HELLO_DB_MAX_CONNS       = tostring(var.hello_db_max_conns)
    HELLO_SESSION_TTL        = var.hello_session_ttl
    HELLO_SHUTDOWN_TIMEOUT   = var.hello_shutdown_timeout
    HELLO_LOG_LEVEL          = var.hello_log_level
    HELLO_HASH_CONCURRENCY   = tostring(var.hello_hash_concurrency)
    HELLO_SENDER_LIMIT       = var.hello_sender_limit
    HELLO_AUTH_SENDER_LIMIT  = var.hello_auth_sender_limit
    HELLO_LOGIN_MAX_FAILURES = tostring(var.hello_login_max_failures)
    HELLO_LOGIN_WINDOW       = var.hello_login_window
    HELLO_DEVICE_COOKIES     = var.hello_device_cookies
    HELLO_CAPTCHA            = var.hello_captcha
    HELLO_REDIS_URL          = module.cache.url
    HELLO_REDIS_FAILURE      = var.hello_redis_failure
  }, local.trusted_proxies)

  # Secret settings: ARNs only. HELLO_SECRET is added by the service module.
  hello_secrets = merge(module.database.password_secrets, {
    HELLO_REDIS_PASSWORD = {
      secret_arn = module.cache.auth_token_secret_arn
      json_key   = null
    }
  })
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
  auth_token_version          = var.redis_auth_token_version
  secret_recovery_window_days = var.secret_recovery_window_days
}

module "edge" {
  source = "../../modules/edge"
  count  = var.edge_enabled ? 1 : 0

  name                    = local.name
  vpc_id                  = module.network.vpc_id
  vpc_cidr_block          = module.network.vpc_cidr_block
  public_subnet_ids       = module.network.public_subnet_ids
  certificate_arn         = var.edge_certificate_arn
  rate_limit_per_ip       = var.edge_rate_limit_per_ip
  login_rate_limit_per_ip = var.edge_login_rate_limit_per_ip
  deletion_protection     = var.deletion_protection
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
  secret_kms_key_arns         = [module.database.kms_key_arn, module.cache.kms_key_arn]
  hello_secret_version        = var.hello_secret_version
  secret_recovery_window_days = var.secret_recovery_window_days

  allowed_cidr_blocks = [module.network.vpc_cidr_block]
  load_balancer = var.edge_enabled ? {
    target_group_arn  = module.edge[0].target_group_arn
    security_group_id = module.edge[0].security_group_id
  } : null
}
